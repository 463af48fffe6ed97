//! Generates ONNX's protobuf messages from the vendored `src/protos/onnx.proto` with
//! rust-protobuf's pure-Rust parser (no `protoc` on the machine needed).

fn main() {
    protobuf_codegen::Codegen::new()
        .pure()
        .includes(["src/protos"])
        .input("src/protos/onnx.proto")
        .cargo_out_dir("onnx-protos")
        .run_from_script();
}
