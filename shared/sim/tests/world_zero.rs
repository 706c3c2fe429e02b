//! World 0 is the generator's original world: its datasets must not change.

use roamguard_sim::{GeneratorConfig, WorldParams, generate};

/// FNV-1a over the JSON Lines the dataset writes: profiles, events, labels.
fn fingerprint(cfg: &GeneratorConfig) -> serde_json::Result<(usize, u64)> {
    let ds = generate(cfg);
    let mut lines = Vec::new();
    for p in &ds.profiles {
        lines.push(serde_json::to_vec(p)?);
    }
    for e in &ds.events {
        lines.push(serde_json::to_vec(e)?);
    }
    for l in &ds.labels {
        lines.push(serde_json::to_vec(l)?);
    }
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in lines.iter().flatten() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    Ok((ds.events.len(), h))
}

#[test]
fn when_world_is_zero_should_generate_what_the_generator_generated_before_worlds() {
    // Fingerprints computed on the generator before `world` existed (commit c30d598).
    let small = GeneratorConfig { subscribers: 120, days: 3, seed: 7, fraud_share: 0.1, ..GeneratorConfig::default() };
    assert_eq!(fingerprint(&small).unwrap(), (12_198, 0x28ed_0001_3785_9149));
    assert_eq!(fingerprint(&GeneratorConfig::default()).unwrap(), (196_678, 0xb039_b3e1_80f9_0ddf));
}

#[test]
fn when_world_is_zero_should_switch_every_lookalike_off() {
    let p = WorldParams::for_world(0);
    assert_eq!(p, WorldParams::default());
    assert!(p.to_string().contains("look-alikes off"), "{p}");
}
