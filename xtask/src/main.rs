fn main() -> anyhow::Result<()> {
    let changed = vm_abi::write_generated(&vm_abi::repo_root())?;
    for p in changed {
        println!("wrote {}", p.display());
    }
    Ok(())
}
