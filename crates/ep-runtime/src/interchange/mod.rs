//! Exchange formats for trained networks: NIR export ([`nir_export`]) and import ([`nir_import`]),
//! Lava-NetX HDF5 export ([`netx_export`]) and the mapping file for chip toolchains
//! ([`mapping_export`]).

pub mod mapping_export;
pub mod netx_export;
pub mod nir_export;
pub mod nir_import;
