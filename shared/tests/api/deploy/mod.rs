//! The deploy: `migrate` as the stack's custom resource, answering a local HTTP server that
//! stands in for CloudFormation's pre-signed response URL; secrets fetched at cold start from
//! moto's Secrets Manager; `template.yaml` against the code.

mod custom_resource;
mod secrets;
mod template;
