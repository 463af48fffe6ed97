//! Train the Caffe LeNet on MNIST with the Caffe solver and print the test error and timings:
//! `cargo run --release -p evoprune-nn --example lenet_mnist -- ../shared/data/mnist [epochs]`.
use evoprune_nn::lenet::{LeNet, Net, SolverConfig, train};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "../shared/data/mnist".into());
    let epochs: f64 = args.next().map_or(1.0, |e| e.parse().expect("epochs"));
    let (tr, te) = evoprune_data::idx::mnist(std::path::Path::new(&dir)).expect("MNIST");
    let mut net = Net::from_lenet(&LeNet::random(1)).unwrap();
    let cfg = SolverConfig {
        epochs,
        ..SolverConfig::default()
    };
    let t = Instant::now();
    let rep = train(&mut net, None, tr.features(), tr.labels(), &cfg, |_, _| {}).unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} iterations in {secs:.1} s ({:.0} img/s), epoch losses {:?}",
        rep.iterations,
        rep.iterations as f64 * 64.0 / secs,
        rep.epoch_loss
    );
    let t = Instant::now();
    let e = net.errors(te.features(), te.labels()).unwrap();
    println!(
        "test error {:.2}% ({e}/10000), forward {:.2} s",
        e as f64 / 100.0,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let z = net.logits_par(te.features()).unwrap();
    println!(
        "parallel forward {:.2} s ({})",
        t.elapsed().as_secs_f64(),
        evoprune_nn::lenet::count_errors(&z, te.labels())
    );
}
