//! `#[vm_sdk::test]`: a test that runs on the VM, in a process of its own.
//!
//! The attribute keeps the function and, in test builds, exports a wrapper
//! named `vm-test:FLAGS:PATH`, where `PATH` is the function's module path
//! and name, and `FLAGS` lists `ignore` and `panic` (`panic=HEX` with an
//! expected message in hex), separated by commas. `vm test app.wasm` finds these exports,
//! runs each in a fresh VM and reports as libtest does; so a test that
//! panics, traps or hangs fails alone.

use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, Attribute, Expr, ItemFn, Lit, Meta};

/// Marks a function as a test that runs in a process of its own on the VM
/// (`cargo test` with `vm test` as the runner). `#[ignore]` and
/// `#[should_panic]` (with `expected = "…"`) work as in libtest.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[vm_sdk::test] takes no arguments; use #[ignore] or #[should_panic] beside it",
        )
        .to_compile_error()
        .into();
    }
    let mut function = parse_macro_input!(item as ItemFn);
    if !function.sig.inputs.is_empty() || function.sig.asyncness.is_some() {
        return syn::Error::new_spanned(
            &function.sig,
            "a #[vm_sdk::test] function takes no arguments and is not async",
        )
        .to_compile_error()
        .into();
    }
    if !matches!(function.sig.output, syn::ReturnType::Default) {
        return syn::Error::new_spanned(
            &function.sig.output,
            "a #[vm_sdk::test] function returns nothing: assert, or unwrap a Result, so a failure panics",
        )
        .to_compile_error()
        .into();
    }
    if !function.sig.generics.params.is_empty() {
        return syn::Error::new_spanned(
            &function.sig.generics,
            "a #[vm_sdk::test] function cannot be generic",
        )
        .to_compile_error()
        .into();
    }
    let flags = match flags(&mut function.attrs) {
        Ok(flags) => flags,
        Err(e) => return e.to_compile_error().into(),
    };
    let name = &function.sig.ident;
    let wrapper = quote::format_ident!("__vm_test_{}", name);
    let prefix = format!("vm-test:{flags}:");
    quote! {
        #[cfg_attr(not(test), allow(dead_code))]
        #function

        #[cfg(test)]
        #[doc(hidden)]
        #[export_name = concat!(#prefix, module_path!(), "::", stringify!(#name))]
        extern "C" fn #wrapper() {
            #name();
        }
    }
    .into()
}

/// Takes `#[ignore]` and `#[should_panic]` off the function (libtest must
/// not see them without `#[test]`) and encodes them as the export's flags.
fn flags(attrs: &mut Vec<Attribute>) -> syn::Result<String> {
    let mut ignore = false;
    let mut panic = None;
    let mut kept = Vec::new();
    for attr in attrs.drain(..) {
        if attr.path().is_ident("ignore") {
            ignore = true;
        } else if attr.path().is_ident("should_panic") {
            {
                panic = Some(match &attr.meta {
                    Meta::Path(_) => "panic".into(),
                    Meta::List(_) => {
                        let mut expected = None;
                        attr.parse_nested_meta(|meta| {
                            if meta.path.is_ident("expected") {
                                let value: Expr = meta.value()?.parse()?;
                                if let Expr::Lit(lit) = value {
                                    if let Lit::Str(s) = lit.lit {
                                        expected = Some(s.value());
                                        return Ok(());
                                    }
                                }
                            }
                            Err(meta.error("expected `expected = \"…\"`"))
                        })?;
                        let hex: String = expected
                            .unwrap_or_default()
                            .bytes()
                            .map(|b| format!("{b:02x}"))
                            .collect();
                        format!("panic={hex}")
                    }
                    Meta::NameValue(nv) => {
                        return Err(syn::Error::new_spanned(
                            nv,
                            "write #[should_panic(expected = \"…\")]",
                        ))
                    }
                });
            }
        } else {
            kept.push(attr);
        }
    }
    *attrs = kept;
    let flags: Vec<String> = ignore
        .then(|| "ignore".to_string())
        .into_iter()
        .chain(panic)
        .collect();
    Ok(flags.join(","))
}

/// A plugin's typed bindings from its WIT, as `vm bindgen PLUGIN.wit --lang
/// rust` writes them: `vm_sdk::plugin!("kv.wit");` declares `mod kv` (the
/// plugin's name) with a module per interface and a safe function per
/// plugin function. The path is relative to the crate's `Cargo.toml`; the
/// crate is rebuilt when the file changes. Every WIT value type works:
/// records, variants, enums and flags become Rust types in the interface's
/// module.
///
/// It needs vm-sdk's `plugin` feature (`vm-sdk = { …, features =
/// ["plugin"] }`), which builds the WIT parser; without it the macro says so.
#[proc_macro]
pub fn plugin(input: TokenStream) -> TokenStream {
    let path = parse_macro_input!(input as syn::LitStr);
    expand_plugin(path)
}

/// Without the `plugin` feature: an error that says how to turn it on.
#[cfg(not(feature = "plugin"))]
fn expand_plugin(path: syn::LitStr) -> TokenStream {
    syn::Error::new_spanned(
        &path,
        "vm_sdk::plugin! needs vm-sdk's `plugin` feature: in Cargo.toml, \
         `vm-sdk = { …, features = [\"plugin\"] }` (it builds the WIT parser, \
         so it is off unless a plugin is called); or write the bindings once \
         with `vm bindgen PLUGIN.wit --lang rust`",
    )
    .to_compile_error()
    .into()
}

/// With the `plugin` feature: the bindings, from the WIT file.
#[cfg(feature = "plugin")]
fn expand_plugin(path: syn::LitStr) -> TokenStream {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(std::path::PathBuf::new, std::path::PathBuf::from);
    let file = dir.join(path.value());
    let package = match vm_abi::plugin::Package::load(&file) {
        Ok(p) => p,
        Err(e) => {
            return syn::Error::new_spanned(&path, format!("vm_sdk::plugin!: {e:#}"))
                .to_compile_error()
                .into()
        }
    };
    if let Some(why) = package.undeclarable() {
        return syn::Error::new_spanned(&path, format!("vm_sdk::plugin!: {why}"))
            .to_compile_error()
            .into();
    }
    let source = vm_abi::emit_rust::plugin_source(&package, "vm_sdk::plugin!");
    let body: proc_macro2::TokenStream = match source.parse() {
        Ok(b) => b,
        Err(e) => {
            return syn::Error::new_spanned(&path, format!("vm_sdk::plugin!: {e}"))
                .to_compile_error()
                .into()
        }
    };
    let name = syn::Ident::new(&package.ident(), path.span());
    let tracked = file.display().to_string();
    quote! {
        pub mod #name {
            #body
            const _: &str = include_str!(#tracked);
        }
    }
    .into()
}
