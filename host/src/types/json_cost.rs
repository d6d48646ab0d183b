//! What a JSON text costs to decode into a `serde_json::Value` tree, estimated from the text
//! alone, so that a request body can be refused before it is decoded.
//!
//! The size limit on a body does not bound the memory its tree takes: the tree costs from 3×
//! the text (long strings) to 150× (`[[[[…]]]]`, where every two bytes open a container with
//! its own allocation). The fuzz harness found a 10 MB push of nested cells that took the
//! server to 1.3 GB before it could be refused; checking its cost first bounds every body's
//! tree by the same figure, whatever its shape.
//!
//! The weights are upper bounds of what serde_json (with `preserve_order`, where a `Value` is
//! 72 bytes and an object an `IndexMap`) allocates on 64-bit glibc, measured with a counting
//! allocator per shape, 200,000 items each (text bytes → heap bytes):
//!
//! | shape | heap per text byte |
//! |---|---|
//! | `[0.123456,…]` | 10.5× (15.7× at the peak of the last `Vec` growth) |
//! | `[1001,…]` | 18.9× (28.3×) |
//! | `["abc",…]` | 21.1× (27.1×) |
//! | `[[1,2,3],…]` | 49.8× |
//! | `[{"k":1},…]` | 63.8× |
//! | `[[1],…]` | 99.6× |
//! | `[[[…120 deep…]]],…]` | 150.4× |

/// A value's slot in an array past its fourth (or the root's): the size of a `Value`, twice,
/// for the spare capacity a growing `Vec` keeps (it doubles).
const ELEMENT: usize = 2 * 72;
/// A non-empty array's first allocation, room for 4 slots of 72 bytes, with the allocator's
/// header and the slack of the first doubling.
const ARRAY: usize = 4 * 72 + 144 + 16;
/// An object's entry: its bucket (hash, key `String`, `Value`: 104 bytes) and its index slot
/// (8 bytes and a control byte), twice for growth; the key's own bytes count as a string.
const ENTRY: usize = 2 * (104 + 9) + 14;
/// A non-empty object's base: its map's first allocations beyond what its entries count.
const OBJECT: usize = 448;
/// A string's allocation beyond its bytes: the allocator's header and rounding (glibc's
/// smallest chunk is 32 bytes).
const STRING: usize = 32;

/// The nesting at which counting stops: serde_json refuses a document nested deeper than 128,
/// before it has allocated much, so such a text needs no estimate.
const MAX_DEPTH: usize = 129;

/// The estimated heap bytes of `text`'s `Value` tree, or `Err` with the estimate so far as soon
/// as it passes `budget` (a large text is not scanned to its end to be refused).
///
/// The scan is structural only: a text that is not JSON gets some estimate, and the decoder
/// reports what is wrong with it.
pub fn decoded_cost(text: &str, budget: usize) -> Result<usize, usize> {
    let bytes = text.as_bytes();
    // Per open container: whether it is an object, and how many elements it has had.
    let mut open: Vec<(bool, usize)> = Vec::new();
    let mut cost = ELEMENT;
    let element = |is_object: bool, elements: usize| match (is_object, elements) {
        (true, 1) => OBJECT + ENTRY,
        (true, _) => ENTRY,
        (false, 1) => ARRAY,
        (false, 2..=4) => 0,
        (false, _) => ELEMENT,
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if b.is_ascii_whitespace() {
            continue;
        }
        // The first byte of a container's first element (anything but its closing bracket)
        // makes it non-empty.
        if let Some((is_object, elements)) = open.last_mut()
            && *elements == 0
            && b != b']'
            && b != b'}'
        {
            *elements = 1;
            cost += element(*is_object, 1);
        }
        match b {
            b'"' => {
                let start = i;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                cost += (i.min(bytes.len()) - start) + STRING;
                i += 1;
            }
            b'[' | b'{' => {
                if open.len() == MAX_DEPTH {
                    return if cost > budget { Err(cost) } else { Ok(cost) };
                }
                open.push((b == b'{', 0));
            }
            b']' | b'}' => {
                open.pop();
            }
            b',' => {
                if let Some((is_object, elements)) = open.last_mut() {
                    *elements += 1;
                    cost += element(*is_object, *elements);
                }
            }
            _ => {}
        }
        if cost > budget {
            return Err(cost);
        }
    }
    Ok(cost)
}

#[cfg(test)]
#[path = "json_cost_tests.rs"]
mod tests;
