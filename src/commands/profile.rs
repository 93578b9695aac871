//! `epchip profile check|list|show`.

use std::process::ExitCode;

use chip_model::{BUILTIN_PROFILE_NAMES, HardwareProfile};

use crate::cli::ProfileCommand;

pub fn run(cmd: ProfileCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ProfileCommand::List => {
            for name in BUILTIN_PROFILE_NAMES {
                let p = HardwareProfile::load(name)?;
                println!("{name:10} {}", p.description);
            }
        }
        ProfileCommand::Show { profile } => {
            let p = HardwareProfile::load(&profile)?;
            println!("{}", p.to_ron_string());
        }
        ProfileCommand::Check { profile } => {
            let p = HardwareProfile::load(&profile)?;
            print!("{}", p.summary());
        }
    }
    Ok(ExitCode::SUCCESS)
}
