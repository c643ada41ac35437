//! `webhookctl events [--profile default|vapi]`: one sample envelope per event type.

use agent_webhooks::event::{
    AssistantRequest, AssistantSpeechStarted, ConversationUpdate, Customer, EndOfCallReport,
    EndpointingRequest, KnowledgeBaseRequest, PhoneCallControl, PhoneCallControlRequest, Role,
    SpeechStatus, SpeechUpdate, ToolCall, ToolCalls, Transcript, TranscriptType,
    TransferDestinationRequest, TransferUpdate, UnknownProfile, UserInterrupted, VoiceRequest,
};
use agent_webhooks::{
    Call, CallStatus, Envelope, Event, EventBody, EventType, Profile, StatusUpdate, Timestamp,
};
use serde_json::json;

use crate::args::Args;

/// The fixed instant of every sample, so the output is stable: 2026-05-31T00:00:00.000Z.
const SAMPLE_MILLIS: u64 = 1_780_185_600_000;

pub fn run(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(raw, &["profile"], &[])?;
    let profile: Profile = args
        .value("profile")
        .unwrap_or("default")
        .parse()
        .map_err(|e: UnknownProfile| e.to_string())?;
    let timestamp = Timestamp::from_unix_millis(SAMPLE_MILLIS).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(16 * 1024);
    let mut call = Call::new("call_7f3c2a");
    if profile == Profile::Vapi {
        // What Vapi's `Call` type requires besides the id (`updatedAt` comes from the
        // event's timestamp); the default profile keeps its sample as it was.
        let created =
            Timestamp::from_unix_millis(SAMPLE_MILLIS - 60_000).map_err(|e| e.to_string())?;
        call = call
            .with_org_id("org_5b1e09")
            .with_call_type("inboundPhoneCall")
            .with_created_at(created);
    }
    for kind in EventType::ALL {
        let event = Event::new(sample(kind))
            .with_timestamp(timestamp)
            .with_call(call.clone())
            .with_customer(Customer::new("+15551234567"));
        Envelope::try_new(event, profile)
            .map_err(|e| e.to_string())?
            .write_to(&mut out);
        out.push(b'\n');
    }
    print!("{}", String::from_utf8(out).map_err(|e| e.to_string())?);
    Ok(())
}

fn sample(kind: EventType) -> EventBody {
    let messages = || {
        vec![
            json!({"role": "user", "content": "I'd like to book a table for two."}),
            json!({"role": "assistant", "content": "Sure, for what time?"}),
        ]
    };
    let number = || json!({"type": "number", "number": "+15550001111"});
    match kind {
        EventType::AssistantRequest => EventBody::AssistantRequest(AssistantRequest::new()),
        EventType::StatusUpdate => {
            EventBody::StatusUpdate(StatusUpdate::new(CallStatus::InProgress))
        }
        EventType::EndOfCallReport => EventBody::EndOfCallReport(EndOfCallReport::new(
            "customer-ended-call".into(),
            json!({"transcript": "AI: Goodbye!"}),
            json!({"summary": "Booked a table for two."}),
        )),
        EventType::ConversationUpdate => {
            EventBody::ConversationUpdate(ConversationUpdate::new(messages()))
        }
        EventType::SpeechUpdate => {
            EventBody::SpeechUpdate(SpeechUpdate::new(SpeechStatus::Started, Role::Assistant))
        }
        EventType::Transcript => EventBody::Transcript(Transcript::new(
            Role::User,
            TranscriptType::Final,
            "For two at eight, please.".into(),
        )),
        EventType::AssistantSpeechStarted => EventBody::AssistantSpeechStarted(
            AssistantSpeechStarted::new("Sure, for what time?".into()),
        ),
        EventType::UserInterrupted => EventBody::UserInterrupted(UserInterrupted::new()),
        EventType::ToolCalls => {
            let call = ToolCall::new("call_1", "lookup_customer", r#"{"phone":"+15551234567"}"#);
            let tool = json!({"type": "function", "function": {"name": "lookup_customer"}});
            EventBody::ToolCalls(ToolCalls::with_tools([(call, tool)]))
        }
        EventType::KnowledgeBaseRequest => {
            EventBody::KnowledgeBaseRequest(KnowledgeBaseRequest::new(messages()))
        }
        EventType::VoiceRequest => {
            EventBody::VoiceRequest(VoiceRequest::new("Sure, for what time?".into(), 24_000))
        }
        EventType::EndpointingRequest => {
            EventBody::EndpointingRequest(EndpointingRequest::new(messages()))
        }
        EventType::TransferUpdate => {
            let mut t = TransferUpdate::new();
            t.destination = Some(number());
            EventBody::TransferUpdate(t)
        }
        EventType::TransferDestinationRequest => {
            EventBody::TransferDestinationRequest(TransferDestinationRequest::new())
        }
        EventType::PhoneCallControl => {
            let mut p = PhoneCallControl::new(PhoneCallControlRequest::Forward);
            p.destination = Some(number());
            EventBody::PhoneCallControl(p)
        }
        // `EventType` is non-exhaustive; a newer type prints as an untyped event.
        other => EventBody::Other(agent_webhooks::event::OtherEvent::new(
            other.as_str(),
            serde_json::Map::new(),
        )),
    }
}
