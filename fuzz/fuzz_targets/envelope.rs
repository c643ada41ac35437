//! Envelope parsing: any bytes parse or fail with a typed error, never a panic; whatever parses
//! serializes back to JSON that parses to the same envelope.
#![no_main]

use agent_webhooks::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::parse(data) {
        let bytes = envelope.to_vec();
        let again = Envelope::parse(&bytes).expect("our own output parses");
        assert_eq!(
            again.to_vec(),
            bytes,
            "a second round trip is byte-identical"
        );
    }
});
