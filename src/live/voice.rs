//! `voice-request`: the answer is raw 16-bit PCM, handed to the host chunk by chunk.

use std::time::Duration;

use futures_util::StreamExt;

use super::{Answer, Reason, Requester, Tried};
use crate::outbox::Target;
use crate::transport::{Exchange, ExchangeResult, TransportErrorKind, within};

/// The most audio bytes one `voice-request` may stream by default: 16 MiB (about 5.8 minutes
/// at 24 kHz, 16-bit mono).
pub const DEFAULT_VOICE_LIMIT: u64 = 16 * 1024 * 1024;

/// The most bytes of a failed voice answer kept for the record.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Where a `voice-request`'s audio goes: raw 16-bit signed little-endian mono PCM at the
/// requested `sampleRate`, chunk by chunk as it arrives (never buffered whole). Any
/// `FnMut(&[u8]) + Send` is one.
pub trait VoiceSink: Send {
    /// One chunk of audio, in order.
    fn chunk(&mut self, pcm: &[u8]);
}

impl<F: FnMut(&[u8]) + Send> VoiceSink for F {
    fn chunk(&mut self, pcm: &[u8]) {
        self(pcm);
    }
}

impl Requester {
    /// Sends a `voice-request` and hands its audio to `sink` as it streams in: the first byte
    /// must come within the exchange's budget, each later chunk within the server's timeout,
    /// and no more than the voice limit in all ([`RequesterBuilder::voice_limit`](super::RequesterBuilder::voice_limit);
    /// more is `too_large`). A failure after audio was handed on is not retried; the fallback
    /// is the fallback voice. Other request events are sent as by [`Requester::request`].
    pub async fn voice(
        &self,
        request: super::LiveRequest,
        sink: &mut dyn VoiceSink,
    ) -> super::Outcome {
        if request.event != crate::event::EventType::VoiceRequest {
            return self.request(request).await;
        }
        self.exchange(request, Some(sink)).await
    }

    pub(super) async fn voice_try(
        &self,
        target: &Target,
        webhook_id: &crate::outbox::JobId,
        body: &[u8],
        left: Duration,
        sink: &mut dyn VoiceSink,
    ) -> (Exchange, Tried) {
        let started = self.clock.now();
        let mut exchange = Exchange {
            url: target.url().as_str().to_owned(),
            level: target.level().to_owned(),
            started_at: started,
            ended_at: started,
            latency: Duration::ZERO,
            result: ExchangeResult::Response(http::Response::new(Vec::new())),
        };
        let fail = |reason, detail: String, retryable| Tried {
            result: Err((reason, detail)),
            retryable,
            body: None,
        };
        let tried = 'tried: {
            let request = match self.step.request(target, webhook_id.as_str(), body) {
                Ok(r) => r,
                Err(refusal) => {
                    let detail = refusal.to_string();
                    exchange.result = ExchangeResult::Refused(refusal);
                    break 'tried fail(Reason::Refused, detail, false);
                }
            };
            let transport = self.step.transport().clone();
            let head = within(
                self.timer.as_ref(),
                left,
                transport.send_streaming(request, left),
            );
            let response = match head.await {
                Err(_) => {
                    let e = crate::transport::TransportError::new(
                        TransportErrorKind::Timeout,
                        format!("no response head within {} ms", left.as_millis()),
                    );
                    let detail = e.to_string();
                    exchange.result = ExchangeResult::Failed(e);
                    break 'tried fail(Reason::Timeout, detail, false);
                }
                Ok(Err(e)) => {
                    let detail = e.message().to_owned();
                    let (reason, retryable) = match e.kind() {
                        TransportErrorKind::Timeout => (Reason::Timeout, false),
                        TransportErrorKind::Refused => (Reason::Refused, false),
                        TransportErrorKind::Connect => (Reason::ConnectError, true),
                        _ => (Reason::ConnectError, false),
                    };
                    exchange.result = ExchangeResult::Failed(e);
                    break 'tried fail(reason, detail, retryable);
                }
                Ok(Ok(response)) => response,
            };
            let (parts, mut chunks) = response.into_parts();
            let elapsed = |s: &Self| s.clock.now().duration_since(started);
            if !parts.status.is_success() {
                // Keep the start of the error body for the record (admins only).
                let mut kept = Vec::new();
                let rest = left.saturating_sub(elapsed(self));
                let _ = within(self.timer.as_ref(), rest, async {
                    while let Some(Ok(c)) = chunks.next().await {
                        let room = ERROR_BODY_LIMIT - kept.len();
                        kept.extend_from_slice(&c[..c.len().min(room)]);
                        if kept.len() >= ERROR_BODY_LIMIT {
                            break;
                        }
                    }
                })
                .await;
                let status = parts.status;
                exchange.result =
                    ExchangeResult::Response(http::Response::from_parts(parts, kept.clone()));
                break 'tried Tried {
                    result: Err((Reason::HttpStatus, format!("the server answered {status}"))),
                    retryable: true,
                    body: Some(kept),
                };
            }
            exchange.result =
                ExchangeResult::Response(http::Response::from_parts(parts, Vec::new()));
            let mut total: u64 = 0;
            loop {
                // The first byte within the budget; each later chunk within the server's
                // timeout (a stalled stream ends).
                let wait = if total == 0 {
                    left.saturating_sub(elapsed(self))
                } else {
                    target.request_timeout()
                };
                let next = match within(self.timer.as_ref(), wait, chunks.next()).await {
                    Err(_) => {
                        let what = if total == 0 {
                            "first audio byte"
                        } else {
                            "next audio chunk"
                        };
                        break 'tried fail(
                            Reason::Timeout,
                            format!("no {what} within {} ms", wait.as_millis()),
                            false,
                        );
                    }
                    Ok(next) => next,
                };
                match next {
                    None if total == 0 => {
                        break 'tried fail(
                            Reason::InvalidResponse,
                            "the voice answer has no audio".into(),
                            false,
                        );
                    }
                    None => {
                        break 'tried Tried {
                            result: Ok(Answer::Voice { bytes: total }),
                            retryable: false,
                            body: None,
                        };
                    }
                    Some(Err(e)) => {
                        break 'tried fail(Reason::ConnectError, e.to_string(), false);
                    }
                    Some(Ok(chunk)) => {
                        let len = chunk.len() as u64;
                        if total.saturating_add(len) > self.voice_limit {
                            break 'tried fail(
                                Reason::TooLarge,
                                format!("the audio passed {} bytes", self.voice_limit),
                                false,
                            );
                        }
                        if !chunk.is_empty() {
                            sink.chunk(&chunk);
                        }
                        total += len;
                    }
                }
            }
        };
        exchange.ended_at = self.clock.now();
        exchange.latency = exchange.ended_at.duration_since(started);
        (exchange, tried)
    }
}
