//! crossbeam_bench — the W1–W13 workloads of WORKLOADS.md on crossbeam-channel, written the
//! way a Rust user would, with the same message counts, the same checks and the same JSON
//! as kchan_bench (engine "crossbeam"):
//!
//!   crossbeam_bench [--quick] [--json] [--reps N] [--only W1,W5,...]
//!
//! Mapping: bounded N = `bounded(N)`, unlimited = `unbounded()`, rendezvous = `bounded(0)`,
//! close = dropping the last Sender, blocking select = `select!` (a disconnected receiver is
//! replaced by `never()`, the crossbeam idiom). crossbeam has no batch API: W10 sends 64
//! values one `send` at a time, and receives "up to 64" as one blocking `recv` followed by
//! `try_recv` until 64 or empty (what kchan's recv_many returns). W12 pipeline: stage 1 sends
//! 1..n, stages 2 and 3 receive and forward, stage 4 receives; every stage counts. W13 worker
//! pool: 1 dispatcher, 6 workers sending job+1 to 1 collector. Every run checks the count and
//! the sum of what was received; a mismatch exits with status 1. Besides CPU per message,
//! each run reports the process's context switches (getrusage: ru_nvcsw + ru_nivcsw, every
//! thread) per million messages: "csw_per_million" in the JSON.

use crossbeam_channel::{bounded, never, select, unbounded, Receiver, Sender};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

const UNLIMITED: usize = usize::MAX;
const MAX_REPS: usize = 15;
const BATCH_N: usize = 64;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Stream,
    PingPong,
    Select4,
    Batch,
    Pipeline, // consumers = the stages after the first
    Pool,     // consumers = the workers; one more thread collects
}

struct Workload {
    id: &'static str,
    name: &'static str,
    kind: Kind,
    cap: usize,
    producers: usize,
    consumers: usize,
    messages: u64,
}

const WORKLOADS: [Workload; 13] = [
    Workload { id: "W1", name: "spsc_bounded", kind: Kind::Stream, cap: 1024, producers: 1, consumers: 1, messages: 10_000_000 },
    Workload { id: "W2", name: "mpmc_bounded", kind: Kind::Stream, cap: 1024, producers: 4, consumers: 4, messages: 10_000_000 },
    Workload { id: "W3", name: "spsc_unbounded", kind: Kind::Stream, cap: UNLIMITED, producers: 1, consumers: 1, messages: 10_000_000 },
    Workload { id: "W4", name: "mpsc_unbounded", kind: Kind::Stream, cap: UNLIMITED, producers: 4, consumers: 1, messages: 10_000_000 },
    Workload { id: "W5", name: "pingpong_rendezvous", kind: Kind::PingPong, cap: 0, producers: 1, consumers: 1, messages: 1_000_000 },
    Workload { id: "W6", name: "pingpong_cap1", kind: Kind::PingPong, cap: 1, producers: 1, consumers: 1, messages: 1_000_000 },
    Workload { id: "W7", name: "select4", kind: Kind::Select4, cap: 1024, producers: 4, consumers: 1, messages: 4_000_000 },
    Workload { id: "W8", name: "handoff_cap1", kind: Kind::Stream, cap: 1, producers: 1, consumers: 1, messages: 2_000_000 },
    Workload { id: "W9", name: "mpmc_oversub", kind: Kind::Stream, cap: 64, producers: 16, consumers: 16, messages: 4_000_000 },
    Workload { id: "W10", name: "batch_spsc", kind: Kind::Batch, cap: 1024, producers: 1, consumers: 1, messages: 10_000_000 },
    Workload { id: "W11", name: "small_ring_oversub", kind: Kind::Stream, cap: 4, producers: 4, consumers: 4, messages: 4_000_000 },
    Workload { id: "W12", name: "pipeline4", kind: Kind::Pipeline, cap: 16, producers: 1, consumers: 3, messages: 2_000_000 },
    Workload { id: "W13", name: "worker_pool", kind: Kind::Pool, cap: 8, producers: 1, consumers: 6, messages: 2_000_000 },
];

fn note(w: &Workload) -> Option<&'static str> {
    match w.kind {
        Kind::Batch => Some("no batch API: 64 single sends; recv = 1 blocking recv + try_recv up to 64"),
        _ => None,
    }
}

// ---- CPU time and context switches: getrusage(RUSAGE_SELF), declared by hand (no libc crate) --
#[repr(C)]
struct Timeval {
    sec: i64,
    usec: i64,
}
#[repr(C)]
struct Rusage {
    utime: Timeval,
    stime: Timeval,
    rest: [i64; 14], // maxrss ixrss idrss isrss minflt majflt nswap inblock oublock msgsnd msgrcv nsignals nvcsw nivcsw
}
extern "C" {
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}
/// The process's CPU seconds (user + system) and context switches (voluntary + involuntary).
fn rusage_now() -> (f64, i64) {
    let mut ru = Rusage { utime: Timeval { sec: 0, usec: 0 }, stime: Timeval { sec: 0, usec: 0 }, rest: [0; 14] };
    // SAFETY: ru is a correctly sized struct rusage for x86_64/aarch64 Linux; RUSAGE_SELF = 0.
    unsafe { getrusage(0, &mut ru) };
    let cpu = ru.utime.sec as f64 + ru.utime.usec as f64 * 1e-6 + ru.stime.sec as f64 + ru.stime.usec as f64 * 1e-6;
    (cpu, ru.rest[12] + ru.rest[13])
}

fn chan(cap: usize) -> (Sender<u64>, Receiver<u64>) {
    if cap == UNLIMITED {
        unbounded()
    } else {
        bounded(cap)
    }
}

/// What a checked thread received.
#[derive(Default, Clone, Copy)]
struct Got {
    count: u64,
    sum: u64,
    failed: bool,
}

fn add(a: Got, b: Got) -> Got {
    Got { count: a.count + b.count, sum: a.sum.wrapping_add(b.sum), failed: a.failed || b.failed }
}

/// One run: returns (seconds, cpu seconds, context switches); exits on a wrong count or sum.
fn run_workload(w: &Workload, messages: u64) -> (f64, f64, i64) {
    let per_producer = messages / w.producers as u64;
    let nthreads = w.producers + w.consumers + if w.kind == Kind::Pool { 1 } else { 0 };
    let start = Arc::new(Barrier::new(nthreads + 1));
    let mut producers = Vec::new();
    let mut consumers = Vec::new();

    match w.kind {
        Kind::Stream | Kind::Batch => {
            let (tx, rx) = chan(w.cap);
            for id in 0..w.producers {
                let (tx, start) = (tx.clone(), start.clone());
                let batch = w.kind == Kind::Batch;
                producers.push(thread::spawn(move || {
                    let base = id as u64 * per_producer;
                    start.wait();
                    let mut failed = false;
                    if batch {
                        let mut buf = [0u64; BATCH_N];
                        let mut i = 1;
                        'outer: while i <= per_producer {
                            let mut n = 0;
                            while n < BATCH_N && i <= per_producer {
                                buf[n] = base + i;
                                n += 1;
                                i += 1;
                            }
                            for &v in &buf[..n] {
                                if tx.send(v).is_err() {
                                    failed = true;
                                    break 'outer;
                                }
                            }
                        }
                    } else {
                        for i in 1..=per_producer {
                            if tx.send(base + i).is_err() {
                                failed = true;
                                break;
                            }
                        }
                    }
                    // dropping the last Sender closes the channel
                    Got { failed, ..Got::default() }
                }));
            }
            drop(tx);
            for _ in 0..w.consumers {
                let (rx, start) = (rx.clone(), start.clone());
                let batch = w.kind == Kind::Batch;
                consumers.push(thread::spawn(move || {
                    let mut g = Got::default();
                    start.wait();
                    if batch {
                        let mut buf = [0u64; BATCH_N];
                        while let Ok(first) = rx.recv() {
                            buf[0] = first;
                            let mut n = 1;
                            while n < BATCH_N {
                                match rx.try_recv() {
                                    Ok(v) => {
                                        buf[n] = v;
                                        n += 1;
                                    }
                                    Err(_) => break,
                                }
                            }
                            for &v in &buf[..n] {
                                g.count += 1;
                                g.sum = g.sum.wrapping_add(v);
                            }
                        }
                    } else {
                        for v in rx.iter() {
                            g.count += 1;
                            g.sum = g.sum.wrapping_add(v);
                        }
                    }
                    g
                }));
            }
        }
        Kind::PingPong => {
            let (tx0, rx0) = chan(w.cap);
            let (tx1, rx1) = chan(w.cap);
            let s = start.clone();
            producers.push(thread::spawn(move || {
                // ping: sends 1..n, expects each back +1
                let mut g = Got::default();
                s.wait();
                for i in 1..=messages {
                    if tx0.send(i).is_err() {
                        g.failed = true;
                        break;
                    }
                    match rx1.recv() {
                        Ok(v) if v == i + 1 => {
                            g.count += 1;
                            g.sum = g.sum.wrapping_add(v);
                        }
                        _ => {
                            g.failed = true;
                            break;
                        }
                    }
                }
                drop(tx0);
                g
            }));
            let s = start.clone();
            consumers.push(thread::spawn(move || {
                let mut g = Got::default();
                s.wait();
                for v in rx0.iter() {
                    if tx1.send(v + 1).is_err() {
                        g.failed = true;
                        break;
                    }
                }
                g
            }));
        }
        Kind::Pipeline => {
            let mut links: Vec<(Sender<u64>, Receiver<u64>)> = (0..w.consumers).map(|_| chan(w.cap)).collect();
            let s = start.clone();
            let first = links[0].0.clone();
            producers.push(thread::spawn(move || {
                s.wait();
                let mut failed = false;
                for i in 1..=per_producer {
                    if first.send(i).is_err() {
                        failed = true;
                        break;
                    }
                }
                Got { failed, ..Got::default() } // dropping `first` closes stage 2's input
            }));
            // stage k+2 receives links[k] and sends on links[k+1]; keep no Sender here, so
            // each channel closes when the stage before it finishes
            let mut rxs = Vec::new();
            let mut txs = Vec::new();
            for (tx, rx) in links.drain(..) {
                txs.push(tx);
                rxs.push(rx);
            }
            let mut txs = txs.into_iter().skip(1);
            for rx in rxs {
                let out = txs.next();
                let s = start.clone();
                consumers.push(thread::spawn(move || {
                    let mut g = Got::default();
                    s.wait();
                    for v in rx.iter() {
                        g.count += 1;
                        g.sum = g.sum.wrapping_add(v);
                        if let Some(o) = &out {
                            if o.send(v).is_err() {
                                g.failed = true;
                                break;
                            }
                        }
                    }
                    g // dropping `out` passes the close on
                }));
            }
        }
        Kind::Pool => {
            let (jtx, jrx) = chan(w.cap);
            let (rtx, rrx) = chan(w.cap);
            let s = start.clone();
            producers.push(thread::spawn(move || {
                s.wait();
                let mut failed = false;
                for i in 1..=per_producer {
                    if jtx.send(i).is_err() {
                        failed = true;
                        break;
                    }
                }
                Got { failed, ..Got::default() } // dropping jtx closes the jobs
            }));
            for _ in 0..w.consumers {
                let (jrx, rtx, s) = (jrx.clone(), rtx.clone(), start.clone());
                consumers.push(thread::spawn(move || {
                    let mut g = Got::default();
                    s.wait();
                    for v in jrx.iter() {
                        g.count += 1;
                        g.sum = g.sum.wrapping_add(v);
                        if rtx.send(v + 1).is_err() {
                            g.failed = true;
                            break;
                        }
                    }
                    g // the last worker to drop its Sender closes the results
                }));
            }
            drop((jrx, rtx));
            let s = start.clone();
            consumers.push(thread::spawn(move || {
                // the collector: last in `consumers`
                let mut g = Got::default();
                s.wait();
                for v in rrx.iter() {
                    g.count += 1;
                    g.sum = g.sum.wrapping_add(v);
                }
                g
            }));
        }
        Kind::Select4 => {
            let mut rxs = Vec::new();
            for id in 0..w.producers {
                let (tx, rx) = chan(w.cap);
                rxs.push(rx);
                let s = start.clone();
                producers.push(thread::spawn(move || {
                    let base = id as u64 * per_producer;
                    s.wait();
                    let mut failed = false;
                    for i in 1..=per_producer {
                        if tx.send(base + i).is_err() {
                            failed = true;
                            break;
                        }
                    }
                    Got { failed, ..Got::default() }
                }));
            }
            let s = start.clone();
            consumers.push(thread::spawn(move || {
                let mut g = Got::default();
                let mut r: Vec<Receiver<u64>> = rxs;
                let mut live = r.len();
                s.wait();
                while live > 0 {
                    let (idx, res) = select! {
                        recv(r[0]) -> m => (0, m),
                        recv(r[1]) -> m => (1, m),
                        recv(r[2]) -> m => (2, m),
                        recv(r[3]) -> m => (3, m),
                    };
                    match res {
                        Ok(v) => {
                            g.count += 1;
                            g.sum = g.sum.wrapping_add(v);
                        }
                        Err(_) => {
                            // disconnected and drained: stop selecting on it
                            r[idx] = never();
                            live -= 1;
                        }
                    }
                }
                g
            }));
        }
    }

    let (c0, s0) = rusage_now();
    let t0 = Instant::now();
    start.wait();
    let mut gots = Vec::new(); // producers, then consumers (then the collector), like kchan_bench
    for h in producers {
        gots.push(h.join().expect("producer panicked"));
    }
    for h in consumers {
        gots.push(h.join().expect("consumer panicked"));
    }
    let secs = t0.elapsed().as_secs_f64();
    let (c1, s1) = rusage_now();

    // Check: every message received once (count and sum), like kchan_bench: groups of threads
    // [from, to) whose totals must match (a pipeline: every stage on its own; a pool: the
    // workers together, and the collector, which gets each job + 1).
    let n = per_producer * w.producers as u64; // values 1..n, each once
    let np = w.producers;
    let groups: Vec<(usize, usize, u64, u64)> = match w.kind {
        Kind::PingPong => vec![(0, 1, messages, messages * (messages + 1) / 2 + messages)],
        Kind::Pipeline => (0..w.consumers).map(|k| (np + k, np + k + 1, n, n * (n + 1) / 2)).collect(),
        Kind::Pool => vec![(np, np + w.consumers, n, n * (n + 1) / 2), (nthreads - 1, nthreads, n, n * (n + 1) / 2 + n)],
        _ => vec![(np, np + w.consumers, n, n * (n + 1) / 2)],
    };
    let failed = gots.iter().any(|g| g.failed);
    for &(from, to, want_count, want_sum) in &groups {
        let got = gots[from..to].iter().fold(Got::default(), |a, &b| add(a, b));
        if failed || got.count != want_count || got.sum != want_sum {
            eprintln!(
                "crossbeam_bench: {} {} on crossbeam: threads {}..{} received {} values summing to {}, want {} and {}{}",
                w.id,
                w.name,
                from,
                to - 1,
                got.count,
                got.sum,
                want_count,
                want_sum,
                if failed { " (an op failed)" } else { "" }
            );
            std::process::exit(1);
        }
    }
    (secs, c1 - c0, s1 - s0)
}

fn usage(prog: &str) -> ! {
    eprintln!("usage: {} [--quick] [--json] [--reps N] [--only W1,W2]", prog);
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mut quick, mut json, mut reps, mut only) = (false, false, 5usize, None::<String>);
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--quick" => quick = true,
            "--json" => json = true,
            "--reps" if i + 1 < args.len() => {
                i += 1;
                reps = args[i].parse().unwrap_or(0);
            }
            "--only" if i + 1 < args.len() => {
                i += 1;
                only = Some(args[i].clone());
            }
            _ => usage(&args[0]),
        }
        i += 1;
    }
    if reps < 1 || reps > MAX_REPS {
        eprintln!("crossbeam_bench: --reps 1..{}", MAX_REPS);
        std::process::exit(2);
    }
    if quick && reps == 5 {
        reps = 3;
    }
    let selected: Vec<bool> = WORKLOADS
        .iter()
        .map(|w| only.as_ref().map_or(true, |o| o.split(',').any(|x| x == w.id)))
        .collect();
    let msgs: Vec<u64> = WORKLOADS.iter().map(|w| if quick { w.messages / 100 } else { w.messages }).collect();

    let mut secs = vec![vec![0f64; reps]; WORKLOADS.len()];
    let mut cpus = vec![vec![0f64; reps]; WORKLOADS.len()];
    let mut csws = vec![vec![0f64; reps]; WORKLOADS.len()];
    for rep in 0..reps {
        for (k, w) in WORKLOADS.iter().enumerate() {
            if !selected[k] {
                continue;
            }
            let (s, c, cs) = run_workload(w, msgs[k]);
            secs[k][rep] = s;
            cpus[k][rep] = c;
            csws[k][rep] = cs as f64;
            if !json {
                eprint!(".");
            }
        }
    }
    if !json {
        eprintln!();
        println!(
            "crossbeam_bench: median of {} runs [min-max]; cpu = CPU seconds per million messages, cs = context switches per million messages",
            reps
        );
    } else {
        println!("{{\"reps\": {}, \"quick\": {}, \"results\": [", reps, quick);
    }
    let mut first = true;
    for (k, w) in WORKLOADS.iter().enumerate() {
        if !selected[k] {
            continue;
        }
        let rt = w.kind == Kind::PingPong;
        let m = msgs[k] as f64;
        let mut v: Vec<f64> = secs[k].iter().map(|&s| if rt { s * 1e9 / m } else { m / s / 1e6 }).collect();
        let mut c: Vec<f64> = cpus[k].iter().map(|&x| x / (m / 1e6)).collect();
        let mut cs: Vec<f64> = csws[k].iter().map(|&x| x / (m / 1e6)).collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        c.sort_by(|a, b| a.partial_cmp(b).unwrap());
        cs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let (med, min, max, cpu, csw) = (v[reps / 2], v[0], v[reps - 1], c[reps / 2], cs[reps / 2]);
        let unit = if rt { "ns_per_round_trip" } else { "Mmsg_per_s" };
        if json {
            let n = note(w).map_or(String::new(), |s| format!(", \"note\": \"{}\"", s));
            print!(
                "{}  {{\"id\": \"{}\", \"workload\": \"{}\", \"engine\": \"crossbeam\", \"unit\": \"{}\", \
                 \"median\": {:.4}, \"min\": {:.4}, \"max\": {:.4}, \"cpu_s_per_million\": {:.4}, \
                 \"csw_per_million\": {:.1}, \"messages\": {}{}}}",
                if first { "" } else { ",\n" },
                w.id, w.name, unit, med, min, max, cpu, csw, msgs[k], n
            );
            first = false;
        } else {
            println!(
                "{:<24} {:<8} {:.3} [{:.3}-{:.3}] cpu {:.2} cs {:.0}{}",
                format!("{} {}", w.id, w.name),
                if rt { "ns/rt" } else { "Mmsg/s" },
                med,
                min,
                max,
                cpu,
                csw,
                note(w).map_or(String::new(), |s| format!("  ({})", s))
            );
        }
    }
    if json {
        println!("\n]}}");
    }
}
