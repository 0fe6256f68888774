//! Messages as JSON and back: a protoc FileDescriptorSet (`descriptors=`) types a method's
//! request and response, and `google.protobuf.Struct` carries JSON-shaped messages when no
//! descriptor says more (what `grpc_response` sends, as Faultbox does). Conversions follow the
//! proto3 JSON mapping (prost-reflect); decoded dicts use the `.proto` field names, keep default
//! values and give 64-bit integers as numbers, which is what a test compares against.

use std::path::Path;

use prost::Message;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions,
};
use serde_json::Value;

/// The message types of a descriptor set (and the well-known types).
#[derive(Clone, Debug)]
pub struct Descriptors {
    pool: DescriptorPool,
}

impl Descriptors {
    /// Reads a protoc `--descriptor_set_out` file, or says why it is not one.
    pub fn load(path: &Path) -> Result<Descriptors, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("the descriptor set {} cannot be read: {e}", path.display()))?;
        let mut pool = DescriptorPool::global();
        let known = pool.files().len();
        pool.decode_file_descriptor_set(bytes.as_slice()).map_err(|e| {
            format!("{} is not a protobuf FileDescriptorSet (protoc --descriptor_set_out): {e}", path.display())
        })?;
        if pool.files().len() == known {
            return Err(format!(
                "{} holds no file descriptor: it is not a protoc --descriptor_set_out FileDescriptorSet",
                path.display()
            ));
        }
        Ok(Descriptors { pool })
    }

    /// The method of a `/pkg.Service/Method` path.
    pub fn method(&self, path: &str) -> Option<MethodDescriptor> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        self.pool.get_service_by_name(service)?.methods().find(|m| m.name() == method)
    }
}

/// `google.protobuf.Struct`, from the well-known types.
fn struct_type() -> Option<MessageDescriptor> {
    DescriptorPool::global().get_message_by_name("google.protobuf.Struct")
}

/// A JSON value as the wire bytes of `message`.
pub fn encode(message: &MessageDescriptor, json: &Value) -> Result<Vec<u8>, String> {
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    DynamicMessage::deserialize_with_options(message.clone(), json, &options)
        .map(|m| m.encode_to_vec())
        .map_err(|e| format!("the body is not a `{}`: {e}", message.full_name()))
}

/// A JSON object as a `google.protobuf.Struct`.
pub fn encode_struct(json: &Value) -> Result<Vec<u8>, String> {
    if !json.is_object() {
        return Err(format!("a google.protobuf.Struct body must be a dict, not {json}"));
    }
    let message = struct_type().ok_or("google.protobuf.Struct is missing from the well-known types")?;
    encode(&message, json)
}

/// The wire bytes of `message` as JSON.
pub fn decode(message: &MessageDescriptor, bytes: &[u8]) -> Result<Value, String> {
    let decoded =
        DynamicMessage::decode(message.clone(), bytes).map_err(|e| format!("not a `{}`: {e}", message.full_name()))?;
    let options =
        SerializeOptions::new().use_proto_field_name(true).skip_default_fields(false).stringify_64_bit_integers(false);
    decoded
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| format!("a `{}` with no JSON form: {e}", message.full_name()))
}

/// The bytes as a `google.protobuf.Struct`, when they are one: every field known (a message of
/// another type rarely decodes without unknown fields).
pub fn decode_struct(bytes: &[u8]) -> Option<Value> {
    let message = struct_type()?;
    let decoded = DynamicMessage::decode(message.clone(), bytes).ok()?;
    if decoded.unknown_fields().next().is_some() {
        return None;
    }
    decode(&message, bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn structs_round_trip() {
        let body = json!({"enabled": true, "variant": "B", "n": 2.5, "list": [{"a": null}]});
        let bytes = encode_struct(&body).unwrap();
        assert_eq!(decode_struct(&bytes), Some(body));
        assert!(encode_struct(&json!([1])).is_err());
        // Field 2 (unknown to Struct) is not taken for a Struct.
        assert_eq!(decode_struct(&[0x10, 0x01]), None);
        assert_eq!(decode_struct(&[]), Some(json!({})));
    }

    #[test]
    fn not_a_descriptor_set() {
        let dir = std::env::temp_dir().join(format!("ospecc-grpc-codec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = dir.join("text.pb");
        std::fs::write(&text, "syntax = \"proto3\";\n").unwrap();
        assert!(Descriptors::load(&text).is_err());
        assert!(Descriptors::load(&dir.join("absent.pb")).unwrap_err().contains("cannot be read"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
