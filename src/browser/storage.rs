//! Where the session record lives: memory, `sessionStorage` or `localStorage`.
//!
//! Every browser call here can throw (storage disabled, quota, private mode); each one is
//! turned into a `storage` error for the core to decide on.

use crate::core::limits::{self, MAX_RECORD};
use crate::core::{Error, ErrorCode};
use crate::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/shell.js")]
extern "C" {
    #[wasm_bindgen(js_name = getItem, catch)]
    fn get_item(area: u32, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = setItem, catch)]
    fn set_item(area: u32, key: &str, value: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = removeItem, catch)]
    fn remove_item(area: u32, key: &str) -> Result<(), JsValue>;
}

/// Which storage the app chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// Nothing is written; the session lives as long as the page (and other tabs).
    Memory,
    /// `sessionStorage`: per tab, survives reloads.
    Session,
    /// `localStorage`: shared by tabs, survives restarts.
    Local,
}

impl StorageKind {
    /// Reads the `storage` option.
    pub fn parse(s: &str) -> Option<StorageKind> {
        match s {
            "memory" => Some(StorageKind::Memory),
            "session" => Some(StorageKind::Session),
            "local" => Some(StorageKind::Local),
            _ => None,
        }
    }
}

/// A handle on the chosen storage.
pub struct Store {
    kind: StorageKind,
    key: String,
}

impl Store {
    /// A store writing under `key`.
    pub fn new(kind: StorageKind, key: &str) -> Store {
        Store {
            kind,
            key: key.to_string(),
        }
    }

    /// The kind of storage.
    pub fn kind(&self) -> StorageKind {
        self.kind
    }

    /// The area `js/shell.js` names (1 `sessionStorage`, 2 `localStorage`); `None` in
    /// memory.
    fn area(&self) -> Option<u32> {
        match self.kind {
            StorageKind::Memory => None,
            StorageKind::Session => Some(1),
            StorageKind::Local => Some(2),
        }
    }

    /// The stored record, if any.
    pub fn read(&self) -> Result<Option<String>, Error> {
        let Some(area) = self.area() else {
            return Ok(None);
        };
        let value = get_item(area, &self.key).map_err(|e| {
            Error::storage("the stored session could not be read").with_cause(super::describe(&e))
        })?;
        let Some(length) = super::text_length(&value) else {
            return Ok(None);
        };
        limits::check(
            length,
            MAX_RECORD,
            ErrorCode::Storage,
            "the stored session is too large to be a tokenward record",
        )?;
        Ok(super::text(&value))
    }

    /// Writes the record.
    pub fn write(&self, record: &str) -> Result<(), Error> {
        match self.area() {
            Some(area) => set_item(area, &self.key, record).map_err(|e| {
                Error::storage("the session could not be stored; it is kept in memory")
                    .with_cause(super::describe(&e))
            }),
            None => Ok(()),
        }
    }

    /// Removes the record.
    pub fn clear(&self) -> Result<(), Error> {
        match self.area() {
            Some(area) => remove_item(area, &self.key).map_err(|e| {
                Error::storage(
                    "the stored session could not be removed; a reload may bring it back",
                )
                .with_cause(super::describe(&e))
            }),
            None => Ok(()),
        }
    }
}
