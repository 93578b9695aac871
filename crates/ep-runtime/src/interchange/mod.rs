//! Exchange formats for trained networks: NIR export ([`nir_export`]) and import ([`nir_import`]),
//! Lava-NetX HDF5 export ([`netx_export`]) and the mapping file for chip toolchains
//! ([`mapping_export`]), and the conversion to a spiking network for deployment ([`spiking`]).

pub mod mapping_export;
pub mod netx_export;
pub mod nir_export;
pub mod nir_import;
pub mod spiking;
