use super::*;

#[test]
fn a_record_holds_the_region_it_placed_the_service_in() {
    let r = Record {
        region: Some("europe-west4".into()),
        ..Default::default()
    };
    let back = Record::parse(&r.to_json()).unwrap();
    assert_eq!(back.region.as_deref(), Some("europe-west4"));
    assert_eq!(placed_region(&back, Some("us-west2")), Some("europe-west4"));
}

#[test]
fn an_older_record_that_only_flagged_a_region_compares_the_live_one() {
    let old = Record::parse(r#"{"owner":"a","service":"s","region":true}"#).unwrap();
    assert_eq!(placed_region(&old, Some("us-west2")), Some("us-west2"));
    let none = Record::parse(r#"{"owner":"a","service":"s"}"#).unwrap();
    assert_eq!(placed_region(&none, Some("us-west2")), None);
}

#[test]
fn a_region_is_set_as_the_cli_does_it() {
    assert_eq!(
        multi_region_config("europe-west4").to_string(),
        r#"{"europe-west4":{"numReplicas":1}}"#
    );
}
