//! Special-purpose addresses: the IANA registries as data, compiled into masked integer tables.
//!
//! The rows below reproduce the IANA "IPv4 Special-Purpose Address Registry" and "IPv6
//! Special-Purpose Address Registry" (RFC 6890 columns, RFC 8190 updates), snapshot
//! [`REGISTRY_DATE`], row by row, plus a few rows that are our policy (multicast, site-local,
//! IPv4-compatible and SIIT, the Azure WireServer, and "outside `2000::/3`"). Each row says
//! whether IANA marks the block globally reachable; the most specific row containing an address
//! decides its verdict, so the globally reachable carve-outs (192.0.0.9/32, AS112, AMT,
//! `2001:1::1/128` ...) are allowed inside their refused parents.
//!
//! At compile time each table becomes `(net, mask)` integer pairs split by family and sorted most
//! specific first, so a lookup is one pass of `addr & mask == net` with the first hit deciding.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The date of the IANA registry snapshot the tables reproduce (both registries).
pub const REGISTRY_DATE: &str = "2026-07-18";

/// What a row decides for the addresses whose most specific row it is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// IANA marks the block globally reachable: allowed.
    Allow,
    /// Not globally reachable (False, N/A, or a terminated row): refused.
    Deny,
    /// The block carries an IPv4 address in its low 32 bits, which decides.
    Embedded,
}

/// Which development escape hatch, if any, re-opens a refused row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opens {
    None,
    Private,
    Loopback,
}

/// Where a row comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A row of the IANA special-purpose registry.
    Registry,
    /// Our addition, refused as a policy choice.
    Policy,
}

#[derive(Clone, Copy)]
struct Row<A> {
    net: A,
    len: u8,
    name: &'static str,
    reference: &'static str,
    verdict: Verdict,
    source: Source,
    opens: Opens,
}

const fn v4(
    net: [u8; 4],
    len: u8,
    name: &'static str,
    reference: &'static str,
    verdict: Verdict,
) -> Row<Ipv4Addr> {
    Row {
        net: Ipv4Addr::new(net[0], net[1], net[2], net[3]),
        len,
        name,
        reference,
        verdict,
        source: Source::Registry,
        opens: Opens::None,
    }
}

const fn v6(
    net: [u16; 8],
    len: u8,
    name: &'static str,
    reference: &'static str,
    verdict: Verdict,
) -> Row<Ipv6Addr> {
    Row {
        net: Ipv6Addr::new(
            net[0], net[1], net[2], net[3], net[4], net[5], net[6], net[7],
        ),
        len,
        name,
        reference,
        verdict,
        source: Source::Registry,
        opens: Opens::None,
    }
}

impl<A: Copy> Row<A> {
    const fn policy(self) -> Self {
        Row {
            source: Source::Policy,
            ..self
        }
    }
    const fn opens(self, opens: Opens) -> Self {
        Row { opens, ..self }
    }
}

use Verdict::{Allow, Deny, Embedded};

/// The IPv4 rows: the registry (snapshot [`REGISTRY_DATE`], 25 rows; the NAT64/DNS64 discovery
/// row holds two /32s), then our policy rows.
#[rustfmt::skip]
const V4_ROWS: [Row<Ipv4Addr>; 28] = [
    v4([0, 0, 0, 0], 8, "This network", "RFC 791", Deny),
    v4([0, 0, 0, 0], 32, "This host on this network", "RFC 1122", Deny),
    v4([10, 0, 0, 0], 8, "Private-Use", "RFC 1918", Deny).opens(Opens::Private),
    v4([100, 64, 0, 0], 10, "Shared Address Space", "RFC 6598", Deny).opens(Opens::Private),
    v4([127, 0, 0, 0], 8, "Loopback", "RFC 1122", Deny).opens(Opens::Loopback),
    v4([169, 254, 0, 0], 16, "Link Local", "RFC 3927", Deny),
    v4([172, 16, 0, 0], 12, "Private-Use", "RFC 1918", Deny).opens(Opens::Private),
    v4([192, 0, 0, 0], 24, "IETF Protocol Assignments", "RFC 6890", Deny),
    v4([192, 0, 0, 0], 29, "IPv4 Service Continuity Prefix", "RFC 7335", Deny),
    v4([192, 0, 0, 8], 32, "IPv4 dummy address", "RFC 7600", Deny),
    v4([192, 0, 0, 9], 32, "Port Control Protocol Anycast", "RFC 7723", Allow),
    v4([192, 0, 0, 10], 32, "Traversal Using Relays around NAT Anycast", "RFC 8155", Allow),
    v4([192, 0, 0, 170], 32, "NAT64/DNS64 Discovery", "RFC 8880", Deny),
    v4([192, 0, 0, 171], 32, "NAT64/DNS64 Discovery", "RFC 8880", Deny),
    v4([192, 0, 2, 0], 24, "Documentation (TEST-NET-1)", "RFC 5737", Deny),
    v4([192, 31, 196, 0], 24, "AS112-v4", "RFC 7535", Allow),
    v4([192, 52, 193, 0], 24, "AMT", "RFC 7450", Allow),
    v4([192, 88, 99, 0], 24, "Deprecated (6to4 Relay Anycast)", "RFC 7526", Deny),
    v4([192, 88, 99, 2], 32, "6a44-relay anycast address", "RFC 6751", Deny),
    v4([192, 168, 0, 0], 16, "Private-Use", "RFC 1918", Deny).opens(Opens::Private),
    v4([192, 175, 48, 0], 24, "Direct Delegation AS112 Service", "RFC 7534", Allow),
    v4([198, 18, 0, 0], 15, "Benchmarking", "RFC 2544", Deny),
    v4([198, 51, 100, 0], 24, "Documentation (TEST-NET-2)", "RFC 5737", Deny),
    v4([203, 0, 113, 0], 24, "Documentation (TEST-NET-3)", "RFC 5737", Deny),
    v4([240, 0, 0, 0], 4, "Reserved", "RFC 1112", Deny),
    v4([255, 255, 255, 255], 32, "Limited Broadcast", "RFC 8190", Deny),
    // Policy: not special-purpose rows, refused all the same.
    v4([224, 0, 0, 0], 4, "Multicast", "RFC 5771", Deny).policy(),
    v4([168, 63, 129, 16], 32, "Azure WireServer (cloud metadata)", "Microsoft Azure", Deny).policy(),
];

/// The IPv6 rows: the registry (snapshot [`REGISTRY_DATE`], 25 rows), then our policy rows.
#[rustfmt::skip]
const V6_ROWS: [Row<Ipv6Addr>; 31] = [
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "Loopback Address", "RFC 4291", Deny).opens(Opens::Loopback),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "Unspecified Address", "RFC 4291", Deny),
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped Address", "RFC 4291", Embedded),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "IPv4-IPv6 Translation", "RFC 6052", Embedded),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "IPv4-IPv6 Translation (local use)", "RFC 8215", Deny),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "Discard-Only Address Block", "RFC 6666", Deny),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, "Dummy IPv6 Prefix", "RFC 9780", Deny),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "IETF Protocol Assignments", "RFC 2928", Deny),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "TEREDO", "RFC 4380", Deny),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, "Port Control Protocol Anycast", "RFC 7723", Allow),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, "Traversal Using Relays around NAT Anycast", "RFC 8155", Allow),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, "DNS-SD Service Registration Protocol Anycast", "RFC 9665", Allow),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "Benchmarking", "RFC 5180", Deny),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, "AMT", "RFC 7450", Allow),
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, "AS112-v6", "RFC 7535", Allow),
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, "Deprecated (previously ORCHID)", "RFC 4843", Deny),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, "ORCHIDv2", "RFC 7343", Allow),
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", Allow),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "Documentation", "RFC 3849", Deny),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4", "RFC 3056", Deny),
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, "Direct Delegation AS112 Service", "RFC 7534", Allow),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "Documentation", "RFC 9637", Deny),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "Segment Routing (SRv6) SIDs", "RFC 9602", Deny),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "Unique-Local", "RFC 4193", Deny).opens(Opens::Private),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "Link-Local Unicast", "RFC 4291", Deny),
    // Policy: not special-purpose rows, refused all the same.
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "Multicast", "RFC 4291", Deny).policy(),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "Site-Local (deprecated)", "RFC 3879", Deny).policy(),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, "IPv4-compatible (deprecated)", "RFC 4291", Deny).policy(),
    v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, "IPv4-translated (SIIT)", "RFC 2765", Deny).policy(),
    // The IANA IPv6 Address Space registry allocates only 2000::/3 as global unicast.
    v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, "Global Unicast", "RFC 4291", Allow).policy(),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 0, "Outside global unicast 2000::/3", "RFC 4291", Deny).policy(),
];

/// One masked row: `addr & mask == net` means the row contains `addr`.
#[derive(Clone, Copy)]
struct Masked<T> {
    net: T,
    mask: T,
    /// The prefix length: how specific the row is.
    len: u8,
    row: u8,
    verdict: Verdict,
}

/// Sorts masked rows most specific (longest prefix) first. An insertion sort, so it is stable:
/// rows of equal length keep registry order.
const fn most_specific_first<T: Copy, const N: usize>(mut rows: [Masked<T>; N]) -> [Masked<T>; N] {
    let mut i = 1;
    while i < N {
        let mut j = i;
        while j > 0 && rows[j - 1].len < rows[j].len {
            rows.swap(j - 1, j);
            j -= 1;
        }
        i += 1;
    }
    rows
}

/// Builds a family's (net, mask) table from its rows, checked at compile time: prefix lengths
/// in range, no host bits set. One body for both families: const fns cannot be generic over
/// integer arithmetic.
macro_rules! masked_table {
    ($name:ident, $rows:ident, $int:ty) => {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "`row: i as u8` is guarded by `assert!(i < 256)`; `u8::try_from` is not const"
        )]
        const fn $name() -> [Masked<$int>; $rows.len()] {
            let mut out = [Masked {
                net: 0,
                mask: 0,
                len: 0,
                row: 0,
                verdict: Deny,
            }; $rows.len()];
            let mut i = 0;
            while i < $rows.len() {
                let row = $rows[i];
                assert!(row.len as u32 <= <$int>::BITS);
                let mask = if row.len == 0 {
                    0
                } else {
                    <$int>::MAX << (<$int>::BITS - row.len as u32)
                };
                let net = row.net.to_bits();
                assert!(net & !mask == 0, "a row has host bits set");
                assert!(i < 256);
                out[i] = Masked {
                    net,
                    mask,
                    len: row.len,
                    row: i as u8,
                    verdict: row.verdict,
                };
                i += 1;
            }
            most_specific_first(out)
        }
    };
}

masked_table!(masked_v4, V4_ROWS, u32);
masked_table!(masked_v6, V6_ROWS, u128);

static MASKED_V4: [Masked<u32>; V4_ROWS.len()] = masked_v4();

/// A 256-bit set of the first octets any IPv4 row covers: an address whose first octet is not in
/// it is in no row, so it is decided without a scan (most public addresses).
const fn v4_first_octets() -> [u64; 4] {
    let mut set = [0u64; 4];
    let mut i = 0;
    while i < MASKED_V4.len() {
        let m = MASKED_V4[i];
        let mut octet = m.net >> 24;
        let last = (m.net | !m.mask) >> 24;
        while octet <= last {
            set[(octet >> 6) as usize] |= 1 << (octet & 63);
            octet += 1;
        }
        i += 1;
    }
    set
}

static V4_FIRST_OCTETS: [u64; 4] = v4_first_octets();
static MASKED_V6: [Masked<u128>; V6_ROWS.len()] = masked_v6();

/// `2000::/3`, the global unicast space, as (net, mask).
const GLOBAL_UNICAST: (u128, u128) = (0x2 << 124, 0x7 << 125);

/// Whether a masked row lies inside `2000::/3`.
const fn inside_global_unicast(m: &Masked<u128>) -> bool {
    m.mask & GLOBAL_UNICAST.1 == GLOBAL_UNICAST.1 && m.net & GLOBAL_UNICAST.1 == GLOBAL_UNICAST.0
}

const fn count_inside() -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < MASKED_V6.len() {
        if inside_global_unicast(&MASKED_V6[i]) {
            n += 1;
        }
        i += 1;
    }
    n
}

const V6_INSIDE: usize = count_inside();

/// The IPv6 table split in two, so an address scans only the rows that can contain it: the rows
/// inside `2000::/3` (`2000::/3` itself last), and the others (`::/0` last). A row that contains
/// `2000::/3` but is larger (only `::/0`) can never win for an address inside it, so it sits only
/// in the second table. Order (most specific first) is kept.
const fn split_v6<const N: usize>(inside: bool) -> [Masked<u128>; N] {
    let mut out = [Masked {
        net: 0,
        mask: 0,
        len: 0,
        row: 0,
        verdict: Deny,
    }; N];
    let mut n = 0;
    let mut i = 0;
    while i < MASKED_V6.len() {
        let m = MASKED_V6[i];
        if inside_global_unicast(&m) == inside {
            // No row partly overlaps 2000::/3 without containing it.
            assert!(inside || m.mask & GLOBAL_UNICAST.1 == GLOBAL_UNICAST.1 || m.mask == 0);
            out[n] = m;
            n += 1;
        }
        i += 1;
    }
    assert!(n == N);
    out
}

static V6_GLOBAL_ROWS: [Masked<u128>; V6_INSIDE] = split_v6(true);
static V6_OTHER_ROWS: [Masked<u128>; V6_ROWS.len() - V6_INSIDE] = split_v6(false);

/// The first 16 bits of every row inside `2000::/3` but `2000::/3` itself (each such row is a /16
/// or longer, asserted): a global unicast address whose first 16 bits are not here is decided
/// by `2000::/3` without a scan. Unused slots repeat the first entry.
const fn global_top16() -> [u16; V6_INSIDE] {
    let mut out = [0u16; V6_INSIDE];
    let mut n = 0;
    let mut i = 0;
    while i < V6_GLOBAL_ROWS.len() {
        let m = V6_GLOBAL_ROWS[i];
        if m.len > 3 {
            assert!(m.len >= 16, "a row inside 2000::/3 is shorter than /16");
            let top = (m.net >> 112) as u16;
            let mut seen = false;
            let mut j = 0;
            while j < n {
                if out[j] == top {
                    seen = true;
                }
                j += 1;
            }
            if !seen {
                out[n] = top;
                n += 1;
            }
        }
        i += 1;
    }
    let mut j = n;
    while j < out.len() {
        out[j] = out[0];
        j += 1;
    }
    out
}

static V6_GLOBAL_TOP16: [u16; V6_INSIDE] = global_top16();

/// A block of the special-purpose tables: an IANA registry row, or one of our policy rows.
///
/// A [`Rejection::SpecialAddress`](super::Rejection::SpecialAddress) names the block that
/// refused the address; [`SpecialBlock::all`] lists every row with its verdict.
///
/// ```
/// use agent_webhooks::guard::special_block;
///
/// let block = special_block("10.1.2.3".parse()?).expect("private use is refused");
/// assert_eq!(block.prefix().to_string(), "10.0.0.0/8");
/// assert_eq!(block.to_string(), "10.0.0.0/8 (Private-Use, RFC 1918)");
/// // IPv4-mapped IPv6 is judged by the IPv4 it carries.
/// assert_eq!(special_block("::ffff:10.1.2.3".parse()?), Some(block));
/// assert_eq!(special_block("192.0.0.9".parse()?), None); // a globally reachable carve-out
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpecialBlock {
    v6: bool,
    row: u8,
}

impl SpecialBlock {
    /// Every row of both tables, IPv4 first, in registry order followed by the policy rows.
    pub fn all() -> impl Iterator<Item = SpecialBlock> {
        // Each table has at most 256 rows (asserted where they are masked).
        let v4 = (0..=u8::MAX)
            .take(V4_ROWS.len())
            .map(|row| SpecialBlock { v6: false, row });
        let v6 = (0..=u8::MAX)
            .take(V6_ROWS.len())
            .map(|row| SpecialBlock { v6: true, row });
        v4.chain(v6)
    }

    fn parts(self) -> (&'static str, &'static str, Verdict, Source, Opens) {
        if self.v6 {
            let r = &V6_ROWS[usize::from(self.row)];
            (r.name, r.reference, r.verdict, r.source, r.opens)
        } else {
            let r = &V4_ROWS[usize::from(self.row)];
            (r.name, r.reference, r.verdict, r.source, r.opens)
        }
    }

    /// The block's prefix, e.g. `10.0.0.0/8`.
    #[must_use]
    pub fn prefix(self) -> IpNet {
        if self.v6 {
            let r = &V6_ROWS[usize::from(self.row)];
            IpNet::V6(Ipv6Net::new(r.net, r.len).unwrap_or_default())
        } else {
            let r = &V4_ROWS[usize::from(self.row)];
            IpNet::V4(Ipv4Net::new(r.net, r.len).unwrap_or_default())
        }
    }

    /// The registry's name of the block, e.g. `Private-Use`.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.parts().0
    }

    /// The document that defines the block, e.g. `RFC 1918`.
    #[must_use]
    pub fn reference(self) -> &'static str {
        self.parts().1
    }

    /// Whether the row is in the IANA special-purpose registry (`false`: our policy addition,
    /// such as multicast or "outside `2000::/3`").
    #[must_use]
    pub fn is_registry_row(self) -> bool {
        self.parts().3 == Source::Registry
    }

    /// Whether an address whose most specific row is this one is refused. `false` for the
    /// globally reachable rows and for the two rows judged by the IPv4 address they carry
    /// (`::ffff:0:0/96`, `64:ff9b::/96`).
    #[must_use]
    pub fn is_refused(self) -> bool {
        self.parts().2 == Deny
    }

    /// Whether the row carries an IPv4 address in its low 32 bits that decides the verdict.
    #[must_use]
    pub fn carries_ipv4(self) -> bool {
        self.parts().2 == Embedded
    }

    pub(crate) fn opens(self) -> Opens {
        self.parts().4
    }
}

impl fmt::Display for SpecialBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {})",
            self.prefix(),
            self.name(),
            self.reference()
        )
    }
}

impl fmt::Debug for SpecialBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpecialBlock({self})")
    }
}

#[inline]
fn lookup_v4(bits: u32) -> &'static Masked<u32> {
    let octet = bits >> 24;
    if V4_FIRST_OCTETS[(octet >> 6) as usize] & (1 << (octet & 63)) == 0 {
        return &GLOBAL_V4;
    }
    // The table ends in no catch-all; an address outside every row is globally reachable.
    MASKED_V4
        .iter()
        .find(|m| bits & m.mask == m.net)
        .unwrap_or(&GLOBAL_V4)
}

static GLOBAL_V4: Masked<u32> = Masked {
    net: 0,
    mask: 0,
    len: 0,
    row: 0,
    verdict: Allow,
};

#[inline]
fn classify_v4(bits: u32) -> Option<SpecialBlock> {
    let m = lookup_v4(bits);
    (m.verdict == Deny).then_some(SpecialBlock {
        v6: false,
        row: m.row,
    })
}

/// The first (most specific) row of `rows` containing `bits`. Each part of the table ends in a
/// catch-all (`2000::/3`, `::/0`), so one always matches; were none to, the `::/0` row ("outside
/// global unicast", refused) answers: fail closed.
#[inline]
fn scan_v6(rows: &'static [Masked<u128>], bits: u128) -> &'static Masked<u128> {
    rows.iter()
        .find(|m| bits & m.mask == m.net)
        .unwrap_or(&MASKED_V6[MASKED_V6.len() - 1])
}

/// The IPv4 address an IPv4-mapped (`::ffff:0:0/96`) or well-known NAT64 (`64:ff9b::/96`)
/// address carries; `None` for every other IPv6 address.
#[inline]
fn carried_v4(bits: u128) -> Option<u32> {
    let high = bits >> 32;
    (high == 0xffff || high == 0x0064_ff9b_0000_0000_0000_0000).then_some(low_32(bits))
}

/// The low 32 bits of an IPv6 address, where the embeddings carry their IPv4 address.
#[inline]
#[allow(
    clippy::cast_possible_truncation,
    reason = "keeping only the low 32 bits is the point"
)]
const fn low_32(bits: u128) -> u32 {
    bits as u32
}

#[inline]
fn classify_v6(bits: u128) -> Option<SpecialBlock> {
    // IPv4-mapped and well-known NAT64 are by far the most common embeddings: decide them
    // before the scan. The table rows for them exist for naming and for the vectors.
    if let Some(v4) = carried_v4(bits) {
        return classify_v4(v4);
    }
    let m = if bits & GLOBAL_UNICAST.1 == GLOBAL_UNICAST.0 {
        if V6_GLOBAL_TOP16.contains(&((bits >> 112) as u16)) {
            scan_v6(&V6_GLOBAL_ROWS, bits)
        } else {
            // No row but 2000::/3 itself starts with these 16 bits: it decides.
            &V6_GLOBAL_ROWS[V6_INSIDE - 1]
        }
    } else {
        scan_v6(&V6_OTHER_ROWS, bits)
    };
    match m.verdict {
        Allow => None,
        Deny => Some(SpecialBlock {
            v6: true,
            row: m.row,
        }),
        Embedded => classify_v4(low_32(bits)),
    }
}

/// The refused special-purpose block that decides `addr`, or `None` when the address is
/// globally reachable.
///
/// This is the IANA verdict with our policy rows, before any escape hatch of a
/// [`Policy`](super::Policy). IPv4-mapped (`::ffff:0:0/96`) and well-known NAT64
/// (`64:ff9b::/96`) addresses return the block of the IPv4 address they carry; 6to4, Teredo,
/// local-use NAT64, IPv4-compatible and SIIT addresses are refused whatever they carry.
#[must_use]
#[inline]
pub fn special_block(addr: IpAddr) -> Option<SpecialBlock> {
    match addr {
        IpAddr::V4(a) => classify_v4(a.to_bits()),
        IpAddr::V6(a) => classify_v6(a.to_bits()),
    }
}

/// Cloud metadata service addresses. Every one sits inside a refused block (link-local,
/// shared address space, unique-local, IETF protocol assignments, the Azure row) whose
/// verdict reports it in production; these stay refused when a development hatch opens the
/// block around them ([`Policy::check_ip`](super::Policy::check_ip)), including a named
/// network.
const METADATA_V4: &[[u8; 4]] = &[
    // AWS, GCP, Azure, OCI, DigitalOcean, OpenStack, Hetzner instance metadata (IMDS).
    [169, 254, 169, 254],
    // AWS ECS task metadata and credentials (v2), and the EKS Pod Identity Agent.
    [169, 254, 170, 2],
    [169, 254, 170, 23],
    // Tencent Cloud metadata (metadata.tencentyun.com).
    [169, 254, 0, 23],
    // Scaleway instance metadata.
    [169, 254, 42, 42],
    // Alibaba Cloud ECS metadata, inside shared address space 100.64.0.0/10.
    [100, 100, 100, 200],
    // Azure WireServer (also its own policy row).
    [168, 63, 129, 16],
    // Oracle Cloud (classic) metadata, inside 192.0.0.0/24 (cujanovic/SSRF-Testing).
    [192, 0, 0, 192],
];

/// The IPv6 cloud metadata addresses, all inside unique-local `fc00::/7`.
const METADATA_V6: &[[u16; 8]] = &[
    // AWS IMDS over IPv6 (Nitro instances).
    [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254],
    // AWS EKS Pod Identity Agent over IPv6.
    [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23],
    // Google Cloud metadata server over IPv6.
    [0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254],
    // Oracle Cloud metadata over IPv6 (169.254.169.254 in its low 32 bits).
    [0xfd00, 0xc1, 0, 0, 0, 0, 0xa9fe, 0xa9fe],
    // Scaleway instance metadata over IPv6.
    [0xfd00, 0x42, 0, 0, 0, 0, 0, 0x42],
];

/// Whether `addr` (or the IPv4 address an IPv4-mapped or NAT64 address carries) is a cloud
/// metadata service address, which no development hatch re-opens.
pub(crate) fn is_metadata_address(addr: IpAddr) -> bool {
    match effective(addr) {
        IpAddr::V4(a) => METADATA_V4.contains(&a.octets()),
        IpAddr::V6(a) => METADATA_V6.contains(&a.segments()),
    }
}

/// The IPv4 address that decides `addr`: the address itself, or the IPv4 carried by an
/// IPv4-mapped or well-known NAT64 address.
pub(crate) fn effective(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(a) => {
            carried_v4(a.to_bits()).map_or(addr, |v4| IpAddr::V4(Ipv4Addr::from_bits(v4)))
        }
        IpAddr::V4(_) => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_most_specific_first() {
        assert!(
            MASKED_V4
                .windows(2)
                .all(|w| w[0].mask.count_ones() >= w[1].mask.count_ones())
        );
        assert!(
            MASKED_V6
                .windows(2)
                .all(|w| w[0].mask.count_ones() >= w[1].mask.count_ones())
        );
        assert_eq!(MASKED_V6[MASKED_V6.len() - 1].mask, 0);
        let last = |rows: &[Masked<u128>]| {
            let m = rows[rows.len() - 1];
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from_bits(m.net), m.len).unwrap())
        };
        assert_eq!(last(&V6_GLOBAL_ROWS).to_string(), "2000::/3");
        assert_eq!(last(&V6_OTHER_ROWS).to_string(), "::/0");
        assert_eq!(V6_GLOBAL_ROWS.len() + V6_OTHER_ROWS.len(), V6_ROWS.len());
        assert_eq!(V6_ROWS[V6_ROWS.len() - 1].len, 0);
        let octets: Vec<usize> = (0..256)
            .filter(|o| V4_FIRST_OCTETS[o >> 6] & (1 << (o & 63)) != 0)
            .collect();
        let mut expected = vec![0, 10, 100, 127, 168, 169, 172, 192, 198, 203];
        expected.extend(224..=255);
        assert_eq!(octets, expected);
        let mut top: Vec<u16> = V6_GLOBAL_TOP16.to_vec();
        top.sort_unstable();
        top.dedup();
        assert_eq!(top, [0x2001, 0x2002, 0x2620, 0x3fff]);
    }

    #[test]
    fn registry_rows_are_counted() {
        let v4 = V4_ROWS
            .iter()
            .filter(|r| r.source == Source::Registry)
            .count();
        let v6 = V6_ROWS
            .iter()
            .filter(|r| r.source == Source::Registry)
            .count();
        // 25 rows each; the IPv4 NAT64/DNS64 discovery row holds two /32s.
        assert_eq!((v4, v6), (26, 25));
    }

    #[test]
    fn metadata_addresses_are_inside_refused_blocks() {
        let all = METADATA_V4
            .iter()
            .map(|o| IpAddr::V4(Ipv4Addr::from(*o)))
            .chain(METADATA_V6.iter().map(|s| {
                IpAddr::V6(Ipv6Addr::new(
                    s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
                ))
            }));
        for addr in all {
            assert!(special_block(addr).is_some(), "{addr}");
            assert!(is_metadata_address(addr), "{addr}");
        }
        assert!(is_metadata_address(
            "::ffff:100.100.100.200".parse().unwrap()
        ));
        assert!(!is_metadata_address("100.100.100.201".parse().unwrap()));
    }

    #[test]
    fn embedding_fast_path_matches_the_table_rows() {
        for text in ["::ffff:0:0", "64:ff9b::"] {
            let bits = text.parse::<Ipv6Addr>().unwrap().to_bits();
            let m = MASKED_V6.iter().find(|m| bits & m.mask == m.net).unwrap();
            assert!(m.verdict == Embedded, "{text}");
        }
    }
}
