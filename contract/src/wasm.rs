//! The WebAssembly face of the contract, for the Node chaincode host (`contract/chaincode`).
//! The host calls [`invoke`] with the transaction's function, argument and context, and a stub
//! adapter (`contract/chaincode/lib/stub-adapter.js`) through which the contract reaches Fabric.
//! A refusal comes back as a rejected promise whose value is the error's wire JSON.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::error::{ContractError, Result};
use crate::ledger::{KeyVersion, Ledger, RangePage, Tx};

#[wasm_bindgen]
extern "C" {
    /// The host's adapter over fabric-shim's `ChaincodeStub`; strings in, strings out.
    pub type Stub;

    #[wasm_bindgen(method, catch, js_name = getState)]
    async fn get_state(this: &Stub, key: &str) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = putState)]
    async fn put_state(this: &Stub, key: &str, value: &str) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = deleteState)]
    async fn delete_state(this: &Stub, key: &str) -> std::result::Result<JsValue, JsValue>;

    /// JSON of a [`RangePage`].
    #[wasm_bindgen(method, catch, js_name = range)]
    async fn range(
        this: &Stub,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> std::result::Result<JsValue, JsValue>;

    /// JSON of the newest `limit` [`KeyVersion`]s, oldest of them first.
    #[wasm_bindgen(method, catch, js_name = history)]
    async fn history(this: &Stub, key: &str, limit: u32) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = setEvent)]
    fn set_event(this: &Stub, name: &str, payload: &str) -> std::result::Result<(), JsValue>;

    /// `msp_ids` as a JSON list.
    #[wasm_bindgen(method, catch, js_name = setEndorsers)]
    async fn set_endorsers(this: &Stub, key: &str, msp_ids: &str) -> std::result::Result<JsValue, JsValue>;

    /// The other channel's answer as JSON text; a refusal rejects with the contract's wire JSON.
    #[wasm_bindgen(method, catch, js_name = queryChannel)]
    async fn query_channel(
        this: &Stub,
        channel: &str,
        function: &str,
        argument: &str,
    ) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = getPrivateData)]
    async fn get_private_data(this: &Stub, collection: &str, key: &str) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = putPrivateData)]
    async fn put_private_data(
        this: &Stub,
        collection: &str,
        key: &str,
        value: &str,
    ) -> std::result::Result<JsValue, JsValue>;

    /// Hex SHA-256 of the committed private value, or null.
    #[wasm_bindgen(method, catch, js_name = getPrivateDataHash)]
    async fn get_private_data_hash(this: &Stub, collection: &str, key: &str) -> std::result::Result<JsValue, JsValue>;

    /// A transient field as text, or null.
    #[wasm_bindgen(method, catch, js_name = getTransient)]
    fn get_transient(this: &Stub, name: &str) -> std::result::Result<JsValue, JsValue>;
}

/// Runs one transaction. `tx` is the JSON of a [`Tx`] (id, timestamp, caller).
///
/// # Errors
/// The contract's refusal as wire JSON (`{"code", "message", "details"}`).
#[wasm_bindgen]
pub async fn invoke(
    function: String,
    argument: String,
    tx: String,
    stub: Stub,
) -> std::result::Result<String, JsValue> {
    let outcome = match serde_json::from_str::<Tx>(&tx) {
        Ok(tx) => crate::contract::execute(&StubLedger { stub, tx }, &function, &argument).await,
        Err(e) => Err(ContractError::Ledger { reason: format!("undecodable transaction context: {e}") }),
    };
    outcome.map_err(|e| JsValue::from_str(&e.to_wire_json()))
}

/// JSON of every function the contract answers (`vocabulary::FUNCTIONS`: name, access, input,
/// output, emits, refuses, summary), for the host to define its Fabric methods from.
#[wasm_bindgen]
pub fn functions() -> String {
    serde_json::to_string(crate::vocabulary::FUNCTIONS).unwrap_or_else(|_| "[]".to_owned())
}

/// The chaincode's name (for the host's calls to itself on another channel).
#[wasm_bindgen]
pub fn chaincode() -> String {
    crate::vocabulary::CHAINCODE.to_owned()
}

struct StubLedger {
    stub: Stub,
    tx: Tx,
}

fn ledger_error(call: &str, error: JsValue) -> ContractError {
    let reason = error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"));
    ContractError::Ledger { reason: format!("{call}: {reason}") }
}

fn decode<T: serde::de::DeserializeOwned>(call: &str, value: JsValue) -> Result<T> {
    let json = value.as_string().unwrap_or_default();
    serde_json::from_str(&json)
        .map_err(|e| ContractError::Ledger { reason: format!("{call}: undecodable answer: {e}") })
}

impl Ledger for StubLedger {
    fn tx(&self) -> &Tx {
        &self.tx
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
        let value = self.stub.get_state(key).await.map_err(|e| ledger_error("getState", e))?;
        Ok(value.as_string().filter(|v| !v.is_empty()))
    }

    async fn put(&self, key: &str, value: &str) -> Result<()> {
        self.stub.put_state(key, value).await.map_err(|e| ledger_error("putState", e))?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.stub.delete_state(key).await.map_err(|e| ledger_error("deleteState", e))?;
        Ok(())
    }

    async fn range(&self, start: &str, end: &str, page_size: u32, bookmark: Option<&str>) -> Result<RangePage> {
        let page = self
            .stub
            .range(start, end, page_size, bookmark.unwrap_or_default())
            .await
            .map_err(|e| ledger_error("range", e))?;
        decode("range", page)
    }

    async fn history(&self, key: &str, limit: u32) -> Result<Vec<KeyVersion>> {
        let versions = self.stub.history(key, limit).await.map_err(|e| ledger_error("history", e))?;
        decode("history", versions)
    }

    fn set_event(&self, name: &str, payload: &str) -> Result<()> {
        self.stub.set_event(name, payload).map_err(|e| ledger_error("setEvent", e))
    }

    async fn set_endorsers(&self, key: &str, msp_ids: &[String]) -> Result<()> {
        let list = serde_json::to_string(msp_ids).map_err(|e| ContractError::Ledger { reason: e.to_string() })?;
        self.stub.set_endorsers(key, &list).await.map_err(|e| ledger_error("setStateValidationParameter", e))?;
        Ok(())
    }

    async fn query_channel(&self, channel: &str, function: &str, argument: &str) -> Result<String> {
        match self.stub.query_channel(channel, function, argument).await {
            Ok(answer) => Ok(answer.as_string().unwrap_or_default()),
            // The other channel's contract refused: its own wire error, passed on as it is.
            Err(refusal) => Err(refusal
                .as_string()
                .and_then(|wire| serde_json::from_str::<crate::WireError>(&wire).ok())
                .and_then(|wire| ContractError::from_wire(&wire))
                .unwrap_or_else(|| ledger_error(&format!("query of {channel}"), refusal))),
        }
    }

    async fn get_private(&self, collection: &str, key: &str) -> Result<Option<String>> {
        let value = self.stub.get_private_data(collection, key).await.map_err(|e| ledger_error("getPrivateData", e))?;
        Ok(value.as_string().filter(|v| !v.is_empty()))
    }

    async fn put_private(&self, collection: &str, key: &str, value: &str) -> Result<()> {
        self.stub.put_private_data(collection, key, value).await.map_err(|e| ledger_error("putPrivateData", e))?;
        Ok(())
    }

    async fn private_hash(&self, collection: &str, key: &str) -> Result<Option<String>> {
        let hash = self
            .stub
            .get_private_data_hash(collection, key)
            .await
            .map_err(|e| ledger_error("getPrivateDataHash", e))?;
        Ok(hash.as_string().filter(|v| !v.is_empty()))
    }

    fn transient(&self, name: &str) -> Result<Option<String>> {
        let value = self.stub.get_transient(name).map_err(|e| ledger_error("getTransient", e))?;
        Ok(value.as_string())
    }
}
