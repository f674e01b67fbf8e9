//! The tests without a server: the spec against the pages and the family's facts, the pages'
//! examples through the typed API, the JSON Schemas, the official signer's vectors and the
//! property tests of everything that decodes. One binary, one module per suite; the fixtures
//! are files under `tests/data/`.

mod decoding_props;
mod schemas;
mod signing_vectors;
mod spec_clusters;
mod spec_compare;
mod spec_examples;
mod spec_family;
mod spec_fields;
