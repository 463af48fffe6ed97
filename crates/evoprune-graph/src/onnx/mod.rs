//! ONNX in and out: [`load`] reads a model as `torch.onnx.export` (either exporter) or Keras
//! converters write it into a [`Graph`]; [`save`] writes a graph back.

mod export;
mod import;
mod proto {
    #![allow(missing_docs, clippy::all, unused)]
    include!(concat!(env!("OUT_DIR"), "/onnx-protos/mod.rs"));
}

pub use export::{save, to_bytes, write_atomic};
pub use import::{SUPPORTED, load, load_bytes};
