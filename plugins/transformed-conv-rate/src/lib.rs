//! `transformed_conv_rate`: the on-demand transform of Feast's local template,
//! `conv_rate + val_to_add` and `conv_rate + val_to_add_2`, as an edgefeat plugin.
//!
//! A null `conv_rate` (a driver with no stored row) or a null request value gives a null
//! output, as the pandas UDF gives NaN, which Feast serves as null.

wit_bindgen::generate!({ path: "../../wit", world: "transformer" });

use edgefeat::plugin::types::{Batch, Column, ColumnData, Field, PluginError, ValueType};
use exports::edgefeat::plugin::transform::{Guest, TransformInfo};

struct Plugin;

impl Guest for Plugin {
    fn describe() -> TransformInfo {
        let f = |name: &str, ty| Field {
            name: name.to_string(),
            type_: ty,
        };
        TransformInfo {
            name: "transformed_conv_rate".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            inputs: vec![
                f("conv_rate", ValueType::Float64),
                f("val_to_add", ValueType::Int64),
                f("val_to_add_2", ValueType::Int64),
            ],
            outputs: vec![
                f("conv_rate_plus_val1", ValueType::Float64),
                f("conv_rate_plus_val2", ValueType::Float64),
            ],
        }
    }

    fn transform(input: Batch) -> Result<Batch, PluginError> {
        let rows = input.num_rows as usize;
        let conv_rate = floats(&input, "conv_rate")?;
        let val1 = ints(&input, "val_to_add")?;
        let val2 = ints(&input, "val_to_add_2")?;
        Ok(Batch {
            num_rows: input.num_rows,
            columns: vec![
                sum("conv_rate_plus_val1", rows, &conv_rate, &val1),
                sum("conv_rate_plus_val2", rows, &conv_rate, &val2),
            ],
        })
    }
}

/// A column's values with `None` for nulls.
fn column<'a>(input: &'a Batch, name: &str) -> Result<&'a Column, PluginError> {
    input
        .columns
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| PluginError::InvalidInput(format!("no column `{name}`")))
}

fn valid(c: &Column, row: usize) -> bool {
    c.valid
        .as_ref()
        .is_none_or(|v| v.get(row).copied().unwrap_or(false))
}

fn floats(input: &Batch, name: &str) -> Result<Vec<Option<f64>>, PluginError> {
    let c = column(input, name)?;
    let ColumnData::Float64(xs) = &c.data else {
        return Err(PluginError::InvalidInput(format!(
            "`{name}` is not float64"
        )));
    };
    Ok(xs
        .iter()
        .enumerate()
        .map(|(i, x)| valid(c, i).then_some(*x))
        .collect())
}

fn ints(input: &Batch, name: &str) -> Result<Vec<Option<i64>>, PluginError> {
    let c = column(input, name)?;
    let ColumnData::Int64(xs) = &c.data else {
        return Err(PluginError::InvalidInput(format!("`{name}` is not int64")));
    };
    Ok(xs
        .iter()
        .enumerate()
        .map(|(i, x)| valid(c, i).then_some(*x))
        .collect())
}

fn sum(name: &str, rows: usize, a: &[Option<f64>], b: &[Option<i64>]) -> Column {
    let mut values = Vec::with_capacity(rows);
    let mut valid = Vec::with_capacity(rows);
    for i in 0..rows {
        match (a.get(i).copied().flatten(), b.get(i).copied().flatten()) {
            (Some(x), Some(y)) => {
                values.push(x + y as f64);
                valid.push(true);
            }
            _ => {
                values.push(0.0);
                valid.push(false);
            }
        }
    }
    let all_valid = valid.iter().all(|v| *v);
    Column {
        name: name.to_string(),
        data: ColumnData::Float64(values),
        valid: (!all_valid).then_some(valid),
    }
}

export!(Plugin);
