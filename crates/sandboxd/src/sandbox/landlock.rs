//! Landlock for everything in a sandbox (docs/design.md#invariant-6-confinement), applied by the
//! agent to itself at start — before it has threads or children — so kernels and commands inherit
//! it. It is a second layer under the mount namespace, which already hides the host: the sandbox
//! may not create device nodes or use device ioctls outside `/dev`, and (ABI ≥ 6) may not
//! connect to abstract unix sockets or signal processes created outside its Landlock domain.
//! Best effort: on a kernel without Landlock the agent logs that it is not enforced.

use landlock::{
    Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    Scope, ABI,
};

/// What [`restrict_self`] achieved, for the agent's log.
pub fn restrict_self() -> String {
    match try_restrict() {
        Ok(RulesetStatus::FullyEnforced) => "landlock: fully enforced".into(),
        Ok(RulesetStatus::PartiallyEnforced) => "landlock: partially enforced (older ABI)".into(),
        Ok(RulesetStatus::NotEnforced) => "landlock: not supported by this kernel".into(),
        Err(e) => format!("landlock: not enforced ({e})"),
    }
}

fn try_restrict() -> Result<RulesetStatus, landlock::RulesetError> {
    let abi = ABI::V6;
    let all = AccessFs::from_all(abi);
    let devices = AccessFs::MakeChar | AccessFs::MakeBlock | AccessFs::IoctlDev;
    let mut ruleset = Ruleset::default()
        .handle_access(all)?
        .scope(Scope::from_all(abi))?
        .create()?;
    if let Ok(root) = PathFd::new("/") {
        ruleset = ruleset.add_rule(PathBeneath::new(root, all & !devices))?;
    }
    if let Ok(dev) = PathFd::new("/dev") {
        ruleset = ruleset.add_rule(PathBeneath::new(
            dev,
            all & !(AccessFs::MakeChar | AccessFs::MakeBlock),
        ))?;
    }
    Ok(ruleset.restrict_self()?.ruleset)
}
