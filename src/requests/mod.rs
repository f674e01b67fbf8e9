//! Constructors and small conveniences on the generated request and response types, one file
//! per part of the spec (`openapi/<part>.yaml`). A request body's constructor takes its required
//! parts and fills the fixed values (`kind`, `apiVersion`) and documented defaults, so that a call
//! reads in one line; struct literals stay possible.

mod nodepools;
mod plans;
mod postcheck;
mod precheck;
mod snapshot;
mod upgrade;
mod versions;
mod workflows;
