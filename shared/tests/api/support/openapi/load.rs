//! Loading `openapi.yaml`: the document registered as one JSON Schema resource, every
//! operation's request, parameter, response and header schema compiled against it, and
//! OpenAPI's own `$ref`s followed.

use std::collections::BTreeMap;

use jsonschema::{Draft, Registry};
use serde_json::{Value, json};

use super::{BASE_URI, Header, METHODS, OpenApi, Operation, Parameter, Response, Schema};

/// `/` → `~1`, `~` → `~0`.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn pointer_to(base: &str, tokens: &[&str]) -> String {
    let mut p = base.to_owned();
    for t in tokens {
        p.push('/');
        p.push_str(&escape(t));
    }
    p
}

/// A JSON pointer as a URI fragment: characters a fragment cannot hold are percent-encoded
/// (e.g. the braces of `/notes/{id}`).
fn fragment(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for b in pointer.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl OpenApi {
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let doc: Value = serde_saphyr::from_str(text).map_err(|e| format!("YAML: {e}"))?;
        Self::from_value(doc)
    }

    pub fn from_value(doc: Value) -> Result<Self, String> {
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(BASE_URI, Draft::Draft202012.create_resource(doc.clone()))
            .and_then(|b| b.prepare())
            .map_err(|e| format!("registering the document: {e}"))?;
        let compile = |pointer: &str| -> Result<Schema, String> {
            let validator = jsonschema::options()
                .with_draft(Draft::Draft202012)
                .with_registry(&registry)
                .should_validate_formats(true)
                .build(&json!({ "$ref": format!("{BASE_URI}#{}", fragment(pointer)) }))
                .map_err(|e| format!("schema at {pointer}: {e}"))?;
            Ok(Schema {
                pointer: pointer.to_owned(),
                validator,
            })
        };
        // Follows OpenAPI `$ref`s (to components) until an object that is not one.
        let deref = |pointer: String| -> Result<(String, &Value), String> {
            let mut pointer = pointer;
            for _ in 0..16 {
                let value = doc
                    .pointer(&pointer)
                    .ok_or_else(|| format!("nothing at {pointer}"))?;
                match value.get("$ref").and_then(Value::as_str) {
                    Some(r) => {
                        pointer = r
                            .strip_prefix('#')
                            .ok_or_else(|| {
                                format!("{pointer}: only local references are supported ({r})")
                            })?
                            .to_owned();
                    }
                    None => return Ok((pointer, value)),
                }
            }
            Err(format!("{pointer}: reference loop"))
        };
        let content_of =
            |pointer: &str, object: &Value| -> Result<BTreeMap<String, Schema>, String> {
                let mut out = BTreeMap::new();
                if let Some(content) = object.get("content").and_then(Value::as_object) {
                    for (media, body) in content {
                        if body.get("schema").is_none() {
                            return Err(format!("{pointer}: {media} has no schema"));
                        }
                        let schema = pointer_to(pointer, &["content", media, "schema"]);
                        out.insert(media.to_ascii_lowercase(), compile(&schema)?);
                    }
                }
                Ok(out)
            };

        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("no paths")?;
        let mut operations = Vec::new();
        for (path, item) in paths {
            let item_pointer = pointer_to("", &["paths", path]);
            let item = item
                .as_object()
                .ok_or(format!("{item_pointer}: not an object"))?;
            for method in METHODS {
                if !item.contains_key(method) {
                    continue;
                }
                let op_pointer = pointer_to(&item_pointer, &[method]);
                let op = &item[method];

                let (request_required, request) = match op.get("requestBody") {
                    None => (false, BTreeMap::new()),
                    Some(_) => {
                        let (p, body) = deref(pointer_to(&op_pointer, &["requestBody"]))?;
                        let required = body.get("required").and_then(Value::as_bool) == Some(true);
                        (required, content_of(&p, body)?)
                    }
                };

                let mut parameters = Vec::new();
                let declared = [
                    (item_pointer.clone(), item.get("parameters")),
                    (op_pointer.clone(), op.get("parameters")),
                ];
                for (base, list) in declared {
                    let Some(list) = list.and_then(Value::as_array) else {
                        continue;
                    };
                    for i in 0..list.len() {
                        let (p, param) = deref(pointer_to(&base, &["parameters", &i.to_string()]))?;
                        let text =
                            |k: &str| param.get(k).and_then(Value::as_str).map(str::to_owned);
                        let name = text("name").ok_or(format!("{p}: no name"))?;
                        let location = text("in").ok_or(format!("{p}: no in"))?;
                        let schema_pointer = pointer_to(&p, &["schema"]);
                        let kind = deref(schema_pointer.clone()).ok().and_then(|(_, s)| {
                            s.get("type").and_then(Value::as_str).map(str::to_owned)
                        });
                        // Operation-level parameters override path-level ones.
                        parameters
                            .retain(|q: &Parameter| !(q.name == name && q.location == location));
                        parameters.push(Parameter {
                            required: param.get("required").and_then(Value::as_bool) == Some(true),
                            schema: compile(&schema_pointer)?,
                            name,
                            location,
                            kind,
                        });
                    }
                }

                let mut responses = BTreeMap::new();
                let declared = op
                    .get("responses")
                    .and_then(Value::as_object)
                    .ok_or(format!("{op_pointer}: no responses"))?;
                for status in declared.keys() {
                    let (p, response) = deref(pointer_to(&op_pointer, &["responses", status]))?;
                    let mut headers = BTreeMap::new();
                    if let Some(hs) = response.get("headers").and_then(Value::as_object) {
                        for name in hs.keys() {
                            let (hp, header) = deref(pointer_to(&p, &["headers", name]))?;
                            let schema = match header.get("schema") {
                                Some(_) => Some(compile(&pointer_to(&hp, &["schema"]))?),
                                None => None,
                            };
                            headers.insert(
                                name.to_ascii_lowercase(),
                                Header {
                                    required: header.get("required").and_then(Value::as_bool)
                                        == Some(true),
                                    schema,
                                },
                            );
                        }
                    }
                    responses.insert(
                        status.clone(),
                        Response {
                            content: content_of(&p, response)?,
                            pointer: p,
                            headers,
                        },
                    );
                }

                operations.push(Operation {
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    pointer: op_pointer,
                    request_required,
                    request,
                    parameters,
                    responses,
                });
            }
        }
        Ok(OpenApi { doc, operations })
    }
}
