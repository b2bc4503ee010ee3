//! The whole vocabulary as one JSON document, with the JSON Schema (draft 2020-12) of every input,
//! output and event payload: what `scripts/build-wasm` writes to
//! `contract/chaincode/wasm/vocabulary.json` for the REST proxy and other languages' clients.
//! Schemas refer to each other as `#/$defs/<Name>`; the names are those of `vocabulary::FUNCTIONS`
//! and `vocabulary::EVENTS`.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::error::ContractError;
use crate::vocabulary::{CODES, EVENTS, FUNCTIONS, exit};

/// The vocabulary document.
pub fn document() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let function_schemas = crate::contract::function_schemas(&mut generator);
    let event_schemas = crate::contract::event_schemas(&mut generator);
    let contract_error = generator.subschema_for::<ContractError>();

    let functions: Vec<Value> = FUNCTIONS
        .iter()
        .zip(function_schemas)
        .map(|(f, (name, input, output))| {
            debug_assert_eq!(f.name, name);
            let mut entry = json!(f);
            entry["inputSchema"] = input.to_value();
            entry["outputSchema"] = output.to_value();
            entry
        })
        .collect();
    let events: Vec<Value> = EVENTS
        .iter()
        .zip(event_schemas)
        .map(|(e, (name, payload))| {
            debug_assert_eq!(e.name, name);
            let mut entry = json!(e);
            entry["payloadSchema"] = payload.to_value();
            entry
        })
        .collect();
    json!({
        "$comment": "Generated from the vmledger contract (contract/src/contract.rs, vocabulary.rs) by \
                     `cargo run -p vmledger-contract --features schema --bin vmledger-vocabulary`; do not edit.",
        "contract": {"name": "vmledger", "version": env!("CARGO_PKG_VERSION")},
        "functions": functions,
        "events": events,
        "codes": CODES,
        "exitCodes": exit::EXIT_CODES,
        "contractErrorSchema": contract_error.to_value(),
        "$defs": generator.take_definitions(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve<'a>(doc: &'a Value, schema: &Value) -> &'a Value {
        let reference = schema["$ref"].as_str().unwrap_or_else(|| panic!("a $ref: {schema}"));
        let name = reference.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("{reference}"));
        doc["$defs"].get(name).unwrap_or_else(|| panic!("{reference} is defined"))
    }

    fn ref_name(schema: &Value) -> &str {
        schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/$defs/")).unwrap_or_default()
    }

    #[test]
    fn every_function_has_its_input_and_output_schema_under_its_declared_names() {
        let doc = document();
        let functions = doc["functions"].as_array().expect("functions");
        assert_eq!(functions.len(), FUNCTIONS.len());
        for (f, entry) in FUNCTIONS.iter().zip(functions) {
            assert_eq!(entry["name"], f.name);
            assert_eq!(ref_name(&entry["inputSchema"]), f.input, "{}", f.name);
            assert_eq!(ref_name(&entry["outputSchema"]), f.output, "{}", f.name);
            assert_eq!(resolve(&doc, &entry["inputSchema"])["type"], "object", "{} takes one JSON object", f.name);
        }
        for (e, entry) in EVENTS.iter().zip(doc["events"].as_array().expect("events")) {
            assert_eq!(ref_name(&entry["payloadSchema"]), e.payload, "{}", e.name);
        }
        // Every $ref anywhere resolves.
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/$defs/").skip(1) {
            let name = &piece[..piece.find('"').expect("closing quote")];
            assert!(doc["$defs"].get(name).is_some(), "dangling $ref {name}");
        }
    }

    #[test]
    fn inputs_refuse_unknown_fields_and_name_what_is_required() {
        let doc = document();
        let migrate = &doc["$defs"]["Migrate"];
        assert_eq!(migrate["additionalProperties"], false);
        assert_eq!(migrate["required"], json!(["vmId", "destinationHostId"]));
        assert_eq!(doc["$defs"]["Ping"]["additionalProperties"], false);
    }

    #[test]
    fn allowed_and_timestamps_have_the_wire_shape() {
        let doc = document();
        let allowed = &doc["$defs"]["Allowed"];
        assert_eq!(allowed["oneOf"][0], json!({"const": "All"}));
        assert_eq!(allowed["oneOf"][1], json!({"type": "array", "items": {"type": "string"}}));
        let regulation = &doc["$defs"]["Regulation"]["properties"];
        assert_eq!(regulation["countries"]["$ref"], "#/$defs/Allowed");
        let since = &doc["$defs"]["VirtualMachine"]["properties"]["since"];
        assert_eq!((&since["type"], &since["format"]), (&json!("string"), &json!("date-time")));
        let to = &doc["$defs"]["Usage"]["properties"]["to"];
        assert_eq!(to["format"], "date-time");
    }

    #[test]
    fn the_document_carries_every_code_and_exit_code_and_the_error_shape() {
        let doc = document();
        assert_eq!(doc["codes"].as_array().map(Vec::len), Some(CODES.len()));
        assert_eq!(doc["codes"][0]["httpStatus"], 400);
        assert_eq!(doc["exitCodes"].as_array().map(Vec::len), Some(exit::EXIT_CODES.len()));
        let error = resolve(&doc, &doc["contractErrorSchema"]);
        assert!(error.to_string().contains("POLICY_DENIED"), "{error}");
    }
}
