use super::*;
use crate::registry::Field;
use crate::types::DType;

fn view() -> FeatureView {
    let field = |name: &str, dtype: DType| Field {
        name: name.into(),
        dtype,
        description: String::new(),
        tags: Default::default(),
        vector_index: None,
    };
    FeatureView {
        name: "docs".into(),
        entities: vec![],
        entity_columns: vec![],
        features: vec![
            field("category", DType::String),
            field("year", DType::Int64),
            field("embedding", DType::Array(Box::new(DType::Float32))),
        ],
        ttl_seconds: 0,
        batch_source: "src".into(),
        stream_source: None,
        online: true,
        offline: true,
        description: String::new(),
        tags: Default::default(),
        owner: String::new(),
    }
}

fn cmp(op: &str, key: &str, value: Json) -> Filter {
    Filter::Comparison {
        op: Op::parse(op).expect("an operator"),
        key: key.into(),
        value,
    }
}

fn doc(category: Option<&str>, year: Option<i64>) -> Vec<Option<Value>> {
    vec![
        category.map(|c| Value::String(c.into())),
        year.map(Value::Int64),
    ]
}

/// Runs `filter` over documents given as (category, year), with the features in that
/// order whatever order the filter names them in.
fn run(filter: &Filter, docs: &[(Option<&str>, Option<i64>)]) -> Vec<bool> {
    let c = Compiled::new(filter, &view(), "embedding").expect("a valid filter");
    docs.iter()
        .map(|(cat, year)| {
            let full = doc(*cat, *year);
            let values: Vec<Option<Value>> = c
                .features
                .iter()
                .map(|f| {
                    if f == "category" {
                        full[0].clone()
                    } else {
                        full[1].clone()
                    }
                })
                .collect();
            c.matches(&values)
        })
        .collect()
}

#[test]
fn comparisons_follow_sqlite() {
    let docs = [
        (Some("news"), Some(2020)),
        (Some("blog"), Some(2024)),
        (None, None),
    ];
    assert_eq!(
        run(&cmp("eq", "category", "news".into()), &docs),
        [true, false, false]
    );
    assert_eq!(
        run(&cmp("ne", "category", "news".into()), &docs),
        [false, true, false]
    );
    assert_eq!(
        run(&cmp("gt", "year", 2020.into()), &docs),
        [false, true, false]
    );
    assert_eq!(
        run(&cmp("gte", "year", 2020.into()), &docs),
        [true, true, false]
    );
    assert_eq!(
        run(&cmp("lt", "year", 2024.5.into()), &docs),
        [true, true, false]
    );
    assert_eq!(
        run(&cmp("lte", "year", 2019.into()), &docs),
        [false, false, false]
    );
    assert_eq!(
        run(
            &cmp("in", "category", serde_json::json!(["blog", "wiki"])),
            &docs
        ),
        [false, true, false]
    );
    assert_eq!(
        run(&cmp("nin", "category", serde_json::json!(["blog"])), &docs),
        [true, false, false]
    );
    // A string never equals a number: the kinds differ.
    assert_eq!(
        run(&cmp("eq", "year", "2020".into()), &docs),
        [false, false, false]
    );
}

#[test]
fn compounds_combine() {
    let docs = [(Some("news"), Some(2020)), (Some("blog"), Some(2024))];
    let and = Filter::Compound {
        all: true,
        filters: vec![
            cmp("eq", "category", "blog".into()),
            cmp("gt", "year", 2000.into()),
        ],
    };
    assert_eq!(run(&and, &docs), [false, true]);
    let or = Filter::Compound {
        all: false,
        filters: vec![
            cmp("eq", "category", "news".into()),
            cmp("gt", "year", 2023.into()),
        ],
    };
    assert_eq!(run(&or, &docs), [true, true]);
    let empty = Filter::Compound {
        all: false,
        filters: vec![],
    };
    assert_eq!(run(&empty, &docs), [true, true]);
}

#[test]
fn bad_filters_say_why() {
    let err = |f: Filter| Compiled::new(&f, &view(), "embedding").unwrap_err();
    assert!(err(cmp("eq", "colour", "red".into())).contains("has no such feature"));
    assert!(err(cmp("eq", "embedding", 1.into())).contains("vector field"));
    assert!(err(cmp("in", "year", 1.into())).contains("requires a list"));
    assert!(err(cmp("eq", "year", serde_json::json!({"a": 1}))).contains("not a number"));
    assert!(err(cmp("eq", "year", Json::Null)).contains("not a number"));
}
