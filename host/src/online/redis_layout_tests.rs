//! Golden bytes of Feast's Redis layout, as Feast 0.67 wrote them for the fixture repo
//! (tests/fixtures/feast-0.67/redis-dump.txt), and properties of the timestamp codec.

use super::*;
use crate::types::{Value, serialize_entity_key};
use proptest::prelude::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn murmur3_matches_the_reference_vectors() {
    assert_eq!(murmur3_32(b"", 0), 0);
    assert_eq!(murmur3_32(b"a", 0), 0x3c25_69b2);
    assert_eq!(murmur3_32("café:x".as_bytes(), 0), 0x7989_be1c);
    // Tails of 1, 2 and 3 bytes and a seed (the reference implementation's test values).
    assert_eq!(murmur3_32(b"abc", 0), 0xb3dd_93fa);
    assert_eq!(murmur3_32(b"abcd", 0), 0x43ed_676a);
    assert_eq!(murmur3_32(b"Hello, world!", 1234), 0xfaf6_cdb3);
}

#[test]
fn feature_fields_are_the_ones_feast_wrote() {
    let cases = [
        ("driver_hourly_stats", "conv_rate", "6160e3da"),
        ("driver_hourly_stats", "acc_rate", "fa5e58ad"),
        ("driver_hourly_stats", "avg_daily_trips", "18a5e5a3"),
        ("driver_hourly_stats", "driver_metadata", "2c2f0633"),
        ("driver_hourly_stats", "driver_config", "3cfb50f4"),
        ("driver_hourly_stats", "driver_profile", "1117428e"),
        ("driver_hourly_stats_fresh", "conv_rate", "03ed1046"),
        ("driver_hourly_stats_fresh", "acc_rate", "e27386b9"),
        ("driver_hourly_stats_fresh", "avg_daily_trips", "3f0965d3"),
        ("driver_hourly_stats_fresh", "driver_metadata", "667cece8"),
        ("driver_hourly_stats_fresh", "driver_config", "9544c56e"),
        ("driver_hourly_stats_fresh", "driver_profile", "bf805393"),
    ];
    for (view, feature, want) in cases {
        assert_eq!(hex(&feature_field(view, feature)), want, "{view}:{feature}");
    }
    assert_eq!(
        hex(&ts_field("driver_hourly_stats")),
        "5f74733a6472697665725f686f75726c795f7374617473"
    );
}

#[test]
fn the_key_is_the_entity_key_then_the_project() {
    let ek = serialize_entity_key(&[("driver_id", &Value::Int64(1001))]).unwrap();
    assert_eq!(
        hex(&redis_key(&ek, "feature_repo")),
        "0100000002000000090000006472697665725f69640400000008000000e903000000000000666561747572655f7265706f"
    );
    assert!(redis_key(&ek, "feature_repo").starts_with(&key_prefix(&["driver_id"])));
    assert_eq!(
        hex(&key_prefix(&["driver_id"])),
        "0100000002000000090000006472697665725f6964"
    );
}

#[test]
fn only_exact_entities_of_the_project_are_ours() {
    let ek = serialize_entity_key(&[("driver_id", &Value::Int64(1001))]).unwrap();
    let key = redis_key(&ek, "feature_repo");
    assert!(is_entity_of(&key, &["driver_id"], "feature_repo"));
    // `my_feature_repo`'s keys match Feast's scan pattern for `feature_repo` too.
    let other = redis_key(&ek, "my_feature_repo");
    assert!(other.ends_with(b"feature_repo"));
    assert!(!is_entity_of(&other, &["driver_id"], "feature_repo"));
    assert!(!is_entity_of(&key, &["driver_id", "zip"], "feature_repo"));
    assert!(!is_entity_of(b"garbage", &["driver_id"], "feature_repo"));
}

#[test]
fn timestamps_are_encoded_as_feast_wrote_them() {
    // 2026-11-24T02:00:00Z, from the dump; and with half a second.
    assert_eq!(
        hex(&encode_timestamp(1_795_485_600_000_000)),
        "08a0df93d806"
    );
    assert_eq!(
        hex(&encode_timestamp(1_795_485_600_500_000)),
        "08a0df93d8061080cab5ee01"
    );
    assert_eq!(encode_timestamp(0), Vec::<u8>::new());
    assert_eq!(decode_timestamp(&[]).unwrap(), 0);
    assert_eq!(
        decode_timestamp(&[0x08, 0xa0, 0xdf, 0x93, 0xd8, 0x06]).unwrap(),
        1_795_485_600_000_000
    );
}

#[test]
fn malformed_timestamps_are_errors() {
    assert!(decode_timestamp(&[0x08]).is_err());
    assert!(decode_timestamp(&[0x08, 0x80]).is_err());
    assert!(decode_timestamp(&[0x0a, 0x01, 0x00]).is_err());
    assert!(decode_timestamp(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    let mut overlong = vec![0x08];
    overlong.extend([0xff; 11]);
    overlong.push(0x01);
    assert!(decode_timestamp(&overlong).is_err());
}

proptest! {
    #[test]
    fn timestamps_round_trip(micros in -62_135_596_800_000_000i64..253_402_300_799_000_000) {
        prop_assert_eq!(decode_timestamp(&encode_timestamp(micros)).unwrap(), micros);
        let (s, n) = seconds_nanos(micros);
        prop_assert!((0..1_000_000_000).contains(&n));
        prop_assert_eq!(s * 1_000_000 + i64::from(n / 1000), micros);
    }

    #[test]
    fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
        let _ = decode_timestamp(&bytes);
    }
}
