//! The guard against its floor and the obvious alternative, in one run:
//! - the check of a domain URL and of an IP-literal URL vs `Url::parse` alone (goal <= 1.15x);
//! - the address classifier vs a linear `Vec<IpNet>` scan, IPv4 and IPv6 (goal <= 25 ns).
//!
//! After criterion's own report, a same-run timing loop prints the medians and the ratios.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use agent_webhooks::guard::{Origin, Policy, SpecialBlock, special_block};
use agent_webhooks::ipnet::IpNet;
use agent_webhooks::url::Url;
use criterion::Criterion;

const DOMAIN_URL: &str = "https://api.example.com/customers/+15551234567?call=CA123&agent=a1";
const IP_URL: &str = "https://93.184.215.14:8443/customers/+15551234567?call=CA123&agent=a1";

/// The obvious alternative: every row as an `IpNet`, the longest containing prefix decides.
struct LinearScan {
    rows: Vec<(IpNet, SpecialBlock)>,
}

impl LinearScan {
    fn new() -> Self {
        LinearScan {
            rows: SpecialBlock::all().map(|b| (b.prefix(), b)).collect(),
        }
    }

    fn classify(&self, addr: IpAddr) -> Option<SpecialBlock> {
        let (_, block) = self
            .rows
            .iter()
            .filter(|(net, _)| net.contains(&addr))
            .max_by_key(|(net, _)| net.prefix_len())?;
        if block.carries_ipv4() {
            if let IpAddr::V6(a) = addr {
                return self.classify(IpAddr::V4((a.to_bits() as u32).into()));
            }
        }
        block.is_refused().then_some(*block)
    }
}

struct Inputs {
    policy: Policy,
    linear: LinearScan,
    v4: IpAddr,
    v6: IpAddr,
}

fn inputs() -> Inputs {
    Inputs {
        policy: Policy::builder()
            .allow_host("api.example.com")
            .allow_host("93.184.215.14")
            .build()
            .unwrap(),
        linear: LinearScan::new(),
        // Public addresses: no row matches, so both implementations do their full work.
        v4: "93.184.215.14".parse().unwrap(),
        v6: "2606:4700:4700::1111".parse().unwrap(),
    }
}

fn benches(c: &mut Criterion, i: &Inputs) {
    assert!(i.policy.parse(DOMAIN_URL, Origin::Model).is_ok());
    assert!(i.policy.parse(IP_URL, Origin::Model).is_ok());
    assert_eq!(special_block(i.v4), i.linear.classify(i.v4));
    assert_eq!(special_block(i.v6), i.linear.classify(i.v6));

    let mut g = c.benchmark_group("guard_url");
    g.bench_function("url_parse_domain", |b| {
        b.iter(|| Url::parse(black_box(DOMAIN_URL)))
    });
    g.bench_function("check_domain", |b| {
        b.iter(|| i.policy.parse(black_box(DOMAIN_URL), Origin::Model))
    });
    g.bench_function("url_parse_ip", |b| b.iter(|| Url::parse(black_box(IP_URL))));
    g.bench_function("check_ip", |b| {
        b.iter(|| i.policy.parse(black_box(IP_URL), Origin::Model))
    });
    g.finish();

    let mut g = c.benchmark_group("guard_classify");
    g.bench_function("masked_v4", |b| b.iter(|| special_block(black_box(i.v4))));
    g.bench_function("linear_v4", |b| {
        b.iter(|| i.linear.classify(black_box(i.v4)))
    });
    g.bench_function("masked_v6", |b| b.iter(|| special_block(black_box(i.v6))));
    g.bench_function("linear_v6", |b| {
        b.iter(|| i.linear.classify(black_box(i.v6)))
    });
    g.finish();
}

/// Calls per batch so that one batch of `f` takes about 1 ms.
fn batch_size<R>(f: &mut impl FnMut() -> R) -> u64 {
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        if t.elapsed().as_micros() >= 1000 || iters >= 1 << 30 {
            return iters;
        }
        iters *= 2;
    }
}

fn batch_ns<R>(f: &mut impl FnMut() -> R, iters: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        black_box(f());
    }
    t.elapsed().as_nanos() as f64 / iters as f64
}

/// Same-run, interleaved: batches of `a` and `b` alternate so both see the same machine load.
/// Returns the median ns per call of each and the median of the per-round ratios `a / b`.
fn paired<A, B>(mut a: impl FnMut() -> A, mut b: impl FnMut() -> B) -> (f64, f64, f64) {
    let (na, nb) = (batch_size(&mut a), batch_size(&mut b));
    let mut rounds: Vec<(f64, f64)> = (0..41)
        .map(|_| (batch_ns(&mut a, na), batch_ns(&mut b, nb)))
        .collect();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut ratio: Vec<f64> = rounds.iter().map(|(x, y)| x / y).collect();
    let mut xs: Vec<f64> = rounds.iter().map(|r| r.0).collect();
    let mut ys: Vec<f64> = rounds.iter_mut().map(|r| r.1).collect();
    (median(&mut xs), median(&mut ys), median(&mut ratio))
}

fn ratios(i: &Inputs) {
    println!("\nsame-run medians (interleaved timing loop after criterion):");
    for (name, url) in [("domain URL", DOMAIN_URL), ("IP-literal URL", IP_URL)] {
        let (ours, floor, ratio) = paired(
            || i.policy.parse(black_box(url), Origin::Model),
            || Url::parse(black_box(url)),
        );
        println!(
            "  check({name}) {ours:.1} ns vs Url::parse {floor:.1} ns: ratio = {ratio:.2} (goal <= 1.15)"
        );
    }
    for (name, url) in [("domain URL", DOMAIN_URL), ("IP-literal URL", IP_URL)] {
        let parsed = Url::parse(url).unwrap();
        let (check, _, _) = paired(
            || i.policy.check_url(black_box(&parsed), Origin::Model),
            || (),
        );
        println!("  of which the checks on the parsed {name}: {check:.1} ns");
    }
    for (name, addr) in [("IPv4", i.v4), ("IPv6", i.v6)] {
        let (ours, linear, ratio) = paired(
            || special_block(black_box(addr)),
            || i.linear.classify(black_box(addr)),
        );
        println!(
            "  classify {name}: masked {ours:.1} ns (goal <= 25 ns) vs linear Vec<IpNet> {linear:.1} ns: \
             ratio = {ratio:.2}"
        );
    }
}

fn main() {
    let i = inputs();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &i);
    c.final_summary();
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        ratios(&i);
    }
}
