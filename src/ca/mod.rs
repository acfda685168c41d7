//! Certificate authority: templates, hierarchy, CSR checks, issuance.
