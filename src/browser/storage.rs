//! Where the session record lives: memory, `sessionStorage` or `localStorage`.
//!
//! Every browser call here can throw (storage disabled, quota, private mode); each one is
//! turned into a `storage` error for the core to decide on.

use crate::core::limits::{self, MAX_RECORD};
use crate::core::{Error, ErrorCode};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// A `Storage` read without the copy into a Rust `String`: the length is checked first.
    type RawStorage;
    #[wasm_bindgen(method, catch, js_name = getItem)]
    fn get_item(this: &RawStorage, key: &str) -> Result<JsValue, JsValue>;
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

    fn area(&self) -> Result<Option<web_sys::Storage>, Error> {
        let window = match web_sys::window() {
            Some(w) => w,
            None => return Ok(None),
        };
        let area = match self.kind {
            StorageKind::Memory => return Ok(None),
            StorageKind::Session => window.session_storage(),
            StorageKind::Local => window.local_storage(),
        };
        area.map_err(|e| {
            Error::storage("the browser refused access to storage").with_cause(super::describe(&e))
        })
    }

    /// The stored record, if any.
    pub fn read(&self) -> Result<Option<String>, Error> {
        match self.area()? {
            Some(s) => {
                let raw: &RawStorage = s.unchecked_ref();
                let value = raw.get_item(&self.key).map_err(|e| {
                    Error::storage("the stored session could not be read")
                        .with_cause(super::describe(&e))
                })?;
                let Some(text) = value.dyn_ref::<js_sys::JsString>() else {
                    return Ok(None);
                };
                limits::check(
                    text.length() as usize,
                    MAX_RECORD,
                    ErrorCode::Storage,
                    "the stored session is too large to be a tokenward record",
                )?;
                Ok(Some(String::from(text)))
            }
            None => Ok(None),
        }
    }

    /// Writes the record.
    pub fn write(&self, record: &str) -> Result<(), Error> {
        match self.area()? {
            Some(s) => s.set_item(&self.key, record).map_err(|e| {
                Error::storage("the session could not be stored; it is kept in memory")
                    .with_cause(super::describe(&e))
            }),
            None => Ok(()),
        }
    }

    /// Removes the record.
    pub fn clear(&self) -> Result<(), Error> {
        match self.area()? {
            Some(s) => s.remove_item(&self.key).map_err(|e| {
                Error::storage("the stored session could not be removed")
                    .with_cause(super::describe(&e))
            }),
            None => Ok(()),
        }
    }
}
