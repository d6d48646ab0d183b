use proptest::prelude::*;

use super::*;

#[test]
fn varints_are_written_shortest_and_read_back() {
    let cases: &[(u64, &[u8])] = &[
        (0, &[0x00]),
        (1, &[0x01]),
        (127, &[0x7f]),
        (128, &[0x80, 0x01]),
        (300, &[0xac, 0x02]),
        (500_000_000, &[0x80, 0xca, 0xb5, 0xee, 0x01]),
        (
            1 << 63,
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        ),
        (
            u64::MAX,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        ),
    ];
    for &(value, bytes) in cases {
        let mut out = Vec::new();
        write_varint(&mut out, value);
        assert_eq!(out, bytes, "{value}");
        assert_eq!(read_varint(bytes, 0), Ok((value, bytes.len())), "{value}");
    }
}

#[test]
fn an_overlong_varint_is_read_but_not_one_past_ten_bytes_or_64_bits() {
    // A longer encoding of 1 is still 1: readers accept it.
    assert_eq!(read_varint(&[0x81, 0x80, 0x00], 0), Ok((1, 3)));
    let eleven = [0xff; 11];
    assert_eq!(read_varint(&eleven, 0), Err(WireError::BadVarint { at: 0 }));
    // Ten bytes whose last one carries more than bit 63.
    let mut too_big = [0xff; 10];
    too_big[9] = 0x02;
    assert_eq!(
        read_varint(&too_big, 0),
        Err(WireError::BadVarint { at: 0 })
    );
    assert_eq!(
        read_varint(&[0x80, 0x80], 0),
        Err(WireError::Truncated { at: 0 })
    );
    assert_eq!(read_varint(&[], 0), Err(WireError::Truncated { at: 0 }));
}

#[test]
fn fields_are_walked_with_their_payloads_and_raw_bytes() {
    // 1: varint 150; 2: "hi"; 3: fixed32; 4: fixed64; 5: a group holding 1: varint 7.
    let msg: &[u8] = &[
        0x08, 0x96, 0x01, //
        0x12, 0x02, b'h', b'i', //
        0x1d, 1, 2, 3, 4, //
        0x21, 1, 2, 3, 4, 5, 6, 7, 8, //
        0x2b, 0x08, 0x07, 0x2c,
    ];
    let f = parse_fields(msg).expect("well-formed");
    assert_eq!(f.len(), 5);
    assert_eq!((f[0].number, f[0].wire_type), (1, WireType::Varint));
    assert_eq!(f[0].varint(), Ok(150));
    assert_eq!(f[0].raw, &msg[0..3]);
    assert_eq!(f[1].bytes(), Ok(&b"hi"[..]));
    assert_eq!(f[1].raw, &msg[3..7]);
    assert_eq!(
        (f[2].wire_type, f[2].payload),
        (WireType::Fixed32, &[1, 2, 3, 4][..])
    );
    assert_eq!(f[3].wire_type, WireType::Fixed64);
    assert_eq!(f[3].payload, &[1, 2, 3, 4, 5, 6, 7, 8][..]);
    assert_eq!((f[4].number, f[4].wire_type), (5, WireType::StartGroup));
    assert_eq!(f[4].payload, &[0x08, 0x07][..]);
    assert_eq!(f[4].raw, &msg[21..]);
    assert_eq!(
        f[1].varint(),
        Err(WireError::UnexpectedWireType {
            number: 2,
            expected: WireType::Varint,
            found: WireType::Len
        })
    );
}

#[test]
fn malformed_messages_are_errors() {
    let cases: &[(&[u8], WireError)] = &[
        // A length past the end.
        (&[0x0a, 0x05, 1, 2], WireError::Truncated { at: 0 }),
        // A tag with nothing after it.
        (&[0x08], WireError::Truncated { at: 1 }),
        (&[0x1d, 1, 2], WireError::Truncated { at: 0 }),
        (&[0x09, 1, 2, 3, 4, 5, 6, 7], WireError::Truncated { at: 0 }),
        // Wire types 6 and 7.
        (
            &[0x0e, 0],
            WireError::BadWireType {
                wire_type: 6,
                at: 0,
            },
        ),
        (
            &[0x08, 0x01, 0x0f],
            WireError::BadWireType {
                wire_type: 7,
                at: 2,
            },
        ),
        // Field number 0.
        (
            &[0x00, 0x01],
            WireError::BadFieldNumber { number: 0, at: 0 },
        ),
        // Above 2^29 - 1: the tag (2^29 << 3) | 0.
        (
            &[0x80, 0x80, 0x80, 0x80, 0x10, 0x00],
            WireError::BadFieldNumber {
                number: 1 << 29,
                at: 0,
            },
        ),
        // A group closed by another number, a group never closed, a stray close.
        (&[0x0b, 0x14], WireError::BadGroup { at: 1 }),
        (&[0x0b, 0x08, 0x01], WireError::Truncated { at: 0 }),
        (&[0x0c], WireError::BadGroup { at: 0 }),
        // A length that does not fit in memory.
        (
            &[
                0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
            WireError::Truncated { at: 0 },
        ),
    ];
    for (msg, err) in cases {
        assert_eq!(parse_fields(msg).as_ref(), Err(err), "{msg:02x?}");
        assert!(Rebuild::parse(msg).is_err());
    }
}

#[test]
fn the_iterator_stops_after_its_first_error() {
    let mut it = fields(&[0x08, 0x01, 0x0f, 0x08, 0x01]);
    assert!(matches!(it.next(), Some(Ok(_))));
    assert!(matches!(it.next(), Some(Err(_))));
    assert!(it.next().is_none());
}

#[test]
fn groups_nest_but_not_without_bound() {
    let mut deep = Vec::new();
    for _ in 0..(MAX_GROUP_DEPTH + 1) {
        write_tag(&mut deep, 1, WireType::StartGroup);
    }
    for _ in 0..(MAX_GROUP_DEPTH + 1) {
        write_tag(&mut deep, 1, WireType::EndGroup);
    }
    assert_eq!(
        parse_fields(&deep),
        Err(WireError::BadGroup {
            at: MAX_GROUP_DEPTH
        })
    );
    let ok = &deep[1..deep.len() - 1];
    assert_eq!(parse_fields(ok).map(|f| f.len()), Ok(1));
}

/// The field numbers of a message, in wire order.
fn numbers(msg: &[u8]) -> Vec<u32> {
    parse_fields(msg)
        .expect("well-formed")
        .iter()
        .map(|f| f.number)
        .collect()
}

#[test]
fn set_replaces_the_first_occurrence_and_drops_the_others() {
    let mut msg = Vec::new();
    write_varint_field(&mut msg, 1, 1);
    write_varint_field(&mut msg, 2, 2);
    write_varint_field(&mut msg, 3, 3);
    write_varint_field(&mut msg, 2, 22);
    let mut r = Rebuild::parse(&msg).expect("well-formed");
    let mut new = Vec::new();
    write_varint_field(&mut new, 2, 99);
    r.set(2, new);
    let out = r.to_bytes();
    assert_eq!(numbers(&out), [1, 2, 3]);
    assert_eq!(parse_fields(&out).expect("ok")[1].varint(), Ok(99));
}

#[test]
fn new_fields_go_where_ascending_order_puts_them() {
    let mut msg = Vec::new();
    write_varint_field(&mut msg, 1, 1);
    write_len_field(&mut msg, 3, b"a");
    write_len_field(&mut msg, 3, b"b");
    write_varint_field(&mut msg, 6, 6);
    let mut r = Rebuild::parse(&msg).expect("well-formed");
    r.set(2, len_field(2, b""));
    r.append(3, len_field(3, b"c"));
    r.append(4, len_field(4, b"d"));
    r.set(7, len_field(7, b"e"));
    let out = r.to_bytes();
    assert_eq!(numbers(&out), [1, 2, 3, 3, 3, 4, 6, 7]);
    let f = parse_fields(&out).expect("ok");
    assert_eq!(
        f.iter()
            .filter(|f| f.number == 3)
            .map(|f| f.payload)
            .collect::<Vec<_>>(),
        [b"a", b"b", b"c"]
    );
    // The untouched fields are their original bytes.
    assert_eq!(&out[..2], &msg[..2]);
}

#[test]
fn remove_and_replace_work_on_positions() {
    let mut msg = Vec::new();
    write_len_field(&mut msg, 6, b"x");
    write_len_field(&mut msg, 6, b"y");
    write_len_field(&mut msg, 7, b"z");
    let mut r = Rebuild::parse(&msg).expect("well-formed");
    // Move the first 6 to the end of the run of 6s.
    r.remove(0);
    r.append(6, len_field(6, b"x"));
    assert_eq!(r.to_bytes(), [&msg[3..6], &msg[0..3], &msg[6..]].concat());
    r.replace(2, 7, len_field(7, b"w"));
    assert_eq!(r.kept().count(), 1);
    r.remove(99);
    r.replace(99, 1, Vec::new());
    assert_eq!(r.to_bytes().len(), 9);
}

/// A field value as the property tests generate it.
#[derive(Debug, Clone)]
enum Value {
    Varint(u64),
    Fixed64([u8; 8]),
    Len(Vec<u8>),
    Fixed32([u8; 4]),
    Group(Vec<(u32, u64)>),
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::Varint),
        any::<[u8; 8]>().prop_map(Value::Fixed64),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Len),
        any::<[u8; 4]>().prop_map(Value::Fixed32),
        proptest::collection::vec((1..=MAX_FIELD_NUMBER, any::<u64>()), 0..4)
            .prop_map(Value::Group),
    ]
}

fn number() -> impl Strategy<Value = u32> {
    prop_oneof![1..=20u32, 1..=MAX_FIELD_NUMBER]
}

fn encode(fields: &[(u32, Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in fields {
        match v {
            Value::Varint(x) => write_varint_field(&mut out, *n, *x),
            Value::Fixed64(b) => {
                write_tag(&mut out, *n, WireType::Fixed64);
                out.extend_from_slice(b);
            }
            Value::Len(b) => write_len_field(&mut out, *n, b),
            Value::Fixed32(b) => {
                write_tag(&mut out, *n, WireType::Fixed32);
                out.extend_from_slice(b);
            }
            Value::Group(inner) => {
                write_tag(&mut out, *n, WireType::StartGroup);
                for (m, x) in inner {
                    write_varint_field(&mut out, *m, *x);
                }
                write_tag(&mut out, *n, WireType::EndGroup);
            }
        }
    }
    out
}

proptest! {
    #[test]
    fn any_field_sequence_walks_back_to_what_was_written(
        input in proptest::collection::vec((number(), value()), 0..12)
    ) {
        let bytes = encode(&input);
        let walked = parse_fields(&bytes).expect("what we wrote is well-formed");
        prop_assert_eq!(walked.len(), input.len());
        for (f, (n, v)) in walked.iter().zip(&input) {
            prop_assert_eq!(f.number, *n);
            match v {
                Value::Varint(x) => prop_assert_eq!(f.varint(), Ok(*x)),
                Value::Fixed64(b) => {
                    prop_assert_eq!(f.wire_type, WireType::Fixed64);
                    prop_assert_eq!(f.payload, &b[..]);
                }
                Value::Len(b) => prop_assert_eq!(f.bytes(), Ok(&b[..])),
                Value::Fixed32(b) => {
                    prop_assert_eq!(f.wire_type, WireType::Fixed32);
                    prop_assert_eq!(f.payload, &b[..]);
                }
                Value::Group(inner) => {
                    prop_assert_eq!(f.wire_type, WireType::StartGroup);
                    let members = parse_fields(f.payload).expect("a group's fields");
                    let got: Vec<(u32, u64)> = members
                        .iter()
                        .map(|m| (m.number, m.varint().expect("a varint")))
                        .collect();
                    prop_assert_eq!(&got, inner);
                }
            }
        }
        // The raw slices tile the message exactly.
        let tiled: Vec<u8> = walked.iter().flat_map(|f| f.raw.iter().copied()).collect();
        prop_assert_eq!(&tiled, &bytes);
        // A rebuild with no edit is the input, byte for byte.
        prop_assert_eq!(Rebuild::parse(&bytes).expect("ok").to_bytes(), bytes.clone());
        // Every proper prefix that cuts a field is an error, never a shorter message.
        let ends: Vec<usize> = walked
            .iter()
            .scan(0, |end, f| { *end += f.raw.len(); Some(*end) })
            .collect();
        for cut in 0..bytes.len() {
            let boundary = cut == 0 || ends.contains(&cut);
            prop_assert_eq!(parse_fields(&bytes[..cut]).is_ok(), boundary, "cut at {}", cut);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_tile_when_accepted(
        bytes in proptest::collection::vec(any::<u8>(), 0..64)
    ) {
        if let Ok(walked) = parse_fields(&bytes) {
            let tiled: Vec<u8> = walked.iter().flat_map(|f| f.raw.iter().copied()).collect();
            prop_assert_eq!(tiled, bytes);
        }
    }

    #[test]
    fn varints_round_trip(value in any::<u64>()) {
        let mut out = Vec::new();
        write_varint(&mut out, value);
        let bits = 64 - value.leading_zeros() as usize;
        prop_assert_eq!(out.len(), bits.div_ceil(7).max(1));
        prop_assert_eq!(read_varint(&out, 0), Ok((value, out.len())));
    }

    #[test]
    fn edits_keep_an_ascending_message_ascending(
        input in proptest::collection::vec((1..=12u32, any::<u64>()), 0..10),
        set in 1..=12u32,
        append in 1..=12u32,
    ) {
        let mut sorted = input.clone();
        sorted.sort_by_key(|(n, _)| *n);
        let mut bytes = Vec::new();
        for (n, x) in &sorted {
            write_varint_field(&mut bytes, *n, *x);
        }
        let mut r = Rebuild::parse(&bytes).expect("ok");
        let mut s = Vec::new();
        write_varint_field(&mut s, set, 7);
        r.set(set, s);
        let mut a = Vec::new();
        write_varint_field(&mut a, append, 8);
        r.append(append, a);
        let out = r.to_bytes();
        let got = numbers(&out);
        let mut want = got.clone();
        want.sort();
        prop_assert_eq!(&got, &want);
        let count = |ns: &[u32], n: u32| ns.iter().filter(|&&m| m == n).count();
        let before: Vec<u32> = sorted.iter().map(|(n, _)| *n).collect();
        for n in 1..=12u32 {
            let want = if n == set {
                1 + usize::from(append == set)
            } else if n == append {
                count(&before, n) + 1
            } else {
                count(&before, n)
            };
            prop_assert_eq!(count(&got, n), want, "field {}", n);
        }
    }
}
