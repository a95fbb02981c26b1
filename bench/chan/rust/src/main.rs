// chanbench (crossbeam-channel): the channel workloads of bench/chan/chanbench.c
// on OS threads.   chanbench WORKLOAD N   prints "ns=<ns per round trip / item> rss_kib=<peak RSS>".
use crossbeam_channel::{bounded, select};
use std::thread;
use std::time::Instant;

fn pingpong(n: usize) -> f64 {
    let (atx, arx) = bounded::<usize>(0);
    let (btx, brx) = bounded::<usize>(0);
    let t0 = Instant::now();
    let h = thread::spawn(move || {
        for _ in 0..n {
            let v = arx.recv().unwrap();
            btx.send(v + 1).unwrap();
        }
    });
    for i in 0..n {
        atx.send(i).unwrap();
        assert_eq!(brx.recv().unwrap(), i + 1);
    }
    h.join().unwrap();
    t0.elapsed().as_nanos() as f64 / n as f64
}

fn mpmc(n: usize, np: usize, nc: usize, cap: usize) -> f64 {
    let (tx, rx) = bounded::<usize>(cap);
    let per = n / np;
    let t0 = Instant::now();
    let cons: Vec<_> = (0..nc)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || {
                let mut s = 0usize;
                for v in rx.iter() {
                    s += v;
                }
                s
            })
        })
        .collect();
    let prods: Vec<_> = (0..np)
        .map(|_| {
            let tx = tx.clone();
            thread::spawn(move || {
                for k in 0..per {
                    tx.send(k).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    drop(rx);
    for p in prods {
        p.join().unwrap();
    }
    let s: usize = cons.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(s, np * (per * (per - 1) / 2));
    t0.elapsed().as_nanos() as f64 / n as f64
}

fn select4(n: usize) -> f64 {
    let per = n / 4;
    let mut rxs = Vec::new();
    let mut keep = Vec::new(); // main keeps a sender: no channel disconnects during the run
    let t0 = Instant::now();
    for _ in 0..4 {
        let (tx, rx) = bounded::<usize>(128);
        rxs.push(rx);
        keep.push(tx.clone());
        thread::spawn(move || {
            for i in 0..per {
                tx.send(i).unwrap();
            }
        });
    }
    let (mut s, mut got) = (0usize, 0usize);
    while got < per * 4 {
        let v = select! {
            recv(rxs[0]) -> v => v,
            recv(rxs[1]) -> v => v,
            recv(rxs[2]) -> v => v,
            recv(rxs[3]) -> v => v,
        };
        if let Ok(x) = v {
            s += x;
            got += 1;
        }
    }
    assert_eq!(s, 4 * (per * (per - 1) / 2));
    t0.elapsed().as_nanos() as f64 / n as f64
}

fn maxrss_kib() -> u64 {
    let st = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for l in st.lines() {
        if let Some(r) = l.strip_prefix("VmHWM:") {
            return r.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
        }
    }
    0
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 3 {
        eprintln!("usage: chanbench WORKLOAD N");
        std::process::exit(2);
    }
    let n: usize = a[2].parse().unwrap();
    let ns = match a[1].as_str() {
        "pingpong" => pingpong(n),
        "b11" => mpmc(n, 1, 1, 1024),
        "b44" => mpmc(n, 4, 4, 128),
        "select4" => select4(n),
        w => {
            eprintln!("unknown workload {}", w);
            std::process::exit(2);
        }
    };
    println!("ns={:.1} rss_kib={}", ns, maxrss_kib());
}
