//! Behaviour of the head trainer and the metrics on real and fixture data.

use evoprune_data::{digits, split};
use evoprune_nn::metrics::{accuracy, auroc, odin_scores};
use evoprune_nn::{
    EarlyStopping, HeadConfig, NnError, Optimizer, TrainConfig, gather_columns, train_head,
    train_masked_head,
};

/// UCI digits scaled to [0, 1], stratified 60/20/20.
fn digits_split(classes: &[u32]) -> (Vec<f32>, Vec<u32>, Vec<f32>, Vec<u32>, usize) {
    let d = digits::load()
        .with_classes(classes)
        .map_values(|v| v / 16.0)
        .unwrap();
    let s = split::stratified(d.labels(), [0.6, 0.2, 0.2], 1).unwrap();
    let (tr, te) = (d.subset(&s.train), d.subset(&s.test));
    (
        tr.features().to_vec(),
        tr.labels().to_vec(),
        te.features().to_vec(),
        te.labels().to_vec(),
        d.n_classes(),
    )
}

#[test]
fn auroc_matches_scikit_learn() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/auroc.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = v["sklearn_roc_auc_score"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let f = |k: &str| {
            case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect::<Vec<f32>>()
        };
        let want = case["auroc"].as_f64().unwrap();
        let got = auroc(&f("pos"), &f("neg")).unwrap();
        assert!((got - want).abs() < 1e-9, "{got} vs sklearn {want}");
    }
}

#[test]
fn paper_settings_reach_95_percent_on_uci_digits() {
    let (x, y, xt, yt, c) = digits_split(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let (mlp, rep) =
        train_head(&x, 64, &y, c, &HeadConfig::default(), &TrainConfig::paper()).unwrap();
    let acc = accuracy(&mlp.logits(&xt).unwrap(), &yt, c).unwrap();
    assert!(
        acc >= 0.95,
        "test accuracy {acc} after {} epochs",
        rep.epochs
    );
    // the loss went down
    assert!(
        rep.losses.last().unwrap() < &(rep.losses[0] * 0.2),
        "{:?}",
        &rep.losses[..3]
    );
}

#[test]
fn early_stopping_stops_and_restores_the_best_epoch() {
    let (x, y, _, _, c) = digits_split(&[0, 1, 2, 3, 4]);
    // a large min_delta makes improvements "too small" quickly
    let cfg = TrainConfig {
        max_epochs: 200,
        early_stopping: Some(EarlyStopping {
            patience: 3,
            min_delta: 0.05,
            restore_best: true,
            restore_always: false,
        }),
        ..TrainConfig::adam(1e-3)
    };
    let (_, rep) = train_head(
        &x,
        64,
        &y,
        c,
        &HeadConfig {
            hidden: vec![32],
            ..Default::default()
        },
        &cfg,
    )
    .unwrap();
    assert!(
        rep.stopped_early && rep.epochs < 200,
        "{} epochs",
        rep.epochs
    );
    // the restored epoch is the last significant improvement: within min_delta of the minimum,
    // and no later epoch beat it by more than min_delta
    let best = rep.losses.iter().cloned().fold(f32::INFINITY, f32::min);
    assert!(rep.losses[rep.best_epoch] - best <= 0.05);
    assert!(
        rep.losses[rep.best_epoch + 1..]
            .iter()
            .all(|l| l + 0.05 >= rep.losses[rep.best_epoch])
    );
    assert_eq!(
        rep.epochs,
        rep.best_epoch + 1 + 3,
        "stops after exactly `patience` epochs without improvement"
    );
}

/// Keras semantics: the best epoch comes back only on an early stop. A huge `min_delta` makes
/// epoch 0 the best and a huge patience means training never stops early.
#[test]
fn a_full_run_keeps_its_last_epoch_unless_told_to_restore_always() {
    let (x, y, _, _, c) = digits_split(&[0, 1, 2]);
    let head = HeadConfig {
        hidden: vec![16],
        ..Default::default()
    };
    let train = |epochs: usize, es: Option<EarlyStopping>| {
        let cfg = TrainConfig {
            max_epochs: epochs,
            early_stopping: es,
            ..TrainConfig::adam(1e-3)
        };
        train_head(&x, 64, &y, c, &head, &cfg).unwrap()
    };
    let es = |restore_always| EarlyStopping {
        patience: 100,
        min_delta: 10.0,
        restore_best: true,
        restore_always,
    };
    let (plain, _) = train(4, None);
    let (keras, rep) = train(4, Some(es(false)));
    assert!(!rep.stopped_early && rep.best_epoch == 0 && rep.epochs == 4);
    assert_eq!(keras, plain, "no early stop: the last epoch's weights");
    let (always, _) = train(4, Some(es(true)));
    let (first, _) = train(1, None);
    assert_eq!(
        always, first,
        "restore_always: the best (first) epoch's weights"
    );
    assert_ne!(always, plain);
}

#[test]
fn a_diverging_loss_is_an_error_not_a_panic() {
    let (x, y, _, _, c) = digits_split(&[0, 1]);
    let cfg = TrainConfig {
        optimizer: Optimizer::Sgd {
            lr: 1e6,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
            decay: 0.0,
        },
        max_epochs: 50,
        early_stopping: None,
        ..TrainConfig::paper()
    };
    let huge: Vec<f32> = x.iter().map(|v| v * 1e6).collect();
    match train_head(&huge, 64, &y, c, &HeadConfig::default(), &cfg) {
        Err(NnError::NonFinite { .. }) => {}
        other => panic!(
            "expected a non-finite loss error, got {:?}",
            other.map(|r| r.1.losses)
        ),
    }
    let mut nan = x.clone();
    nan[3] = f32::NAN;
    assert!(matches!(
        train_head(
            &nan,
            64,
            &y,
            c,
            &HeadConfig::default(),
            &TrainConfig::paper()
        ),
        Err(NnError::NonFinite { epoch: 0, .. })
    ));
}

#[test]
fn compact_training_equals_masked_full_training() {
    let (x, y, xt, _, c) = digits_split(&[0, 1, 2, 3, 4]);
    let active: Vec<usize> = (0..64).filter(|j| j % 3 != 0).collect();
    let cfg = TrainConfig {
        max_epochs: 15,
        early_stopping: None,
        seed: 7,
        ..TrainConfig::paper()
    };
    let head = HeadConfig {
        hidden: vec![64],
        ..Default::default()
    };
    let (compact, _) = train_masked_head(&x, 64, &active, &y, c, &head, &cfg).unwrap();
    let mask = |v: &[f32]| {
        v.iter()
            .enumerate()
            .map(|(i, x)| if active.contains(&(i % 64)) { *x } else { 0.0 })
            .collect::<Vec<f32>>()
    };
    let (full, _) = train_head(&mask(&x), 64, &y, c, &head, &cfg).unwrap();
    let a = compact
        .logits(&gather_columns(&xt, 64, &active).unwrap())
        .unwrap();
    let b = full.logits(&mask(&xt)).unwrap();
    let worst = a
        .iter()
        .zip(&b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "max logit difference {worst}");
    assert!(compact.param_count() < full.param_count());
}

#[test]
fn same_seed_same_head_and_odin_separates_ood_noise() {
    let (x, y, xt, _, c) = digits_split(&[0, 1, 2, 3, 4]);
    let cfg = TrainConfig {
        max_epochs: 30,
        ..TrainConfig::adam(1e-3)
    };
    let head = HeadConfig {
        hidden: vec![64],
        ..Default::default()
    };
    let (a, _) = train_head(&x, 64, &y, c, &head, &cfg).unwrap();
    let (b, _) = train_head(&x, 64, &y, c, &head, &cfg).unwrap();
    assert_eq!(a, b);
    let noise = evoprune_data::noise::uniform(xt.len() / 64, &[64], (0.0, 1.0), 3).unwrap();
    let ind = odin_scores(&a.logits(&xt).unwrap(), c, 1000.0).unwrap();
    let ood = odin_scores(&a.logits(noise.features()).unwrap(), c, 1000.0).unwrap();
    let au = auroc(&ind, &ood).unwrap();
    assert!(au > 0.8, "AUROC {au}");
}
