//! `#[canopy::main]` and `#[canopy::test]`: run an `async fn` on a canopy
//! runtime. Use them through the `canopy` facade.
//!
//! They rewrite `async fn name(..) -> R { body }` into
//! `fn name(..) -> R { <runtime>.block_on(async move { body }) }`, leaving
//! attributes, visibility and the return type as written. No `syn`: the
//! macros only need to find the `async` keyword and the body.

#![deny(missing_docs)]

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Runs `async fn main` on a canopy runtime with signal handling on: the
/// first Ctrl-C / SIGTERM cancels every task (graceful shutdown, shielded
/// cleanup runs), a second exits at once; an interrupted program exits with
/// code 130. When `main` returns, the runtime shuts down gracefully.
///
/// ```ignore
/// #[canopy::main]
/// async fn main() -> Result<(), canopy::Cancelled> {
///     canopy::time::sleep(std::time::Duration::from_millis(10)).await?;
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    if let Some(first) = args.into_iter().next() {
        return error(first.span(), "#[canopy::main] takes no arguments");
    }
    rewrite(item, "main", |body| {
        call("run_main", TokenStream::new(), body)
    })
}

/// Runs an `async fn` test on a fresh canopy runtime (2 workers). Options:
/// `start_paused = true` (a paused clock, as `Builder::start_paused`) and
/// `workers = N`. A task spawned by the test that panics with nobody holding
/// its handle, or a task spawned with `canopy::spawn_detached` that returns
/// an error, fails the test (`RootFailure::CancelRoot`).
///
/// ```ignore
/// #[canopy::test(start_paused = true)]
/// async fn sleeps_an_hour_at_once() {
///     canopy::time::sleep(std::time::Duration::from_secs(3600)).await.unwrap();
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let options = match parse_options(args) {
        Ok(options) => options,
        Err(error) => return error,
    };
    let mut out: TokenStream = "#[::core::prelude::v1::test]".parse().unwrap();
    out.extend(rewrite(item, "test", |body| {
        call("run_test", options.clone(), body)
    }));
    out
}

/// `start_paused = true, workers = 2` as `(start_paused, workers)` arguments.
fn parse_options(args: TokenStream) -> Result<TokenStream, TokenStream> {
    let mut start_paused = "false".to_string();
    let mut workers = "2usize".to_string();
    let tokens: Vec<TokenTree> = args.into_iter().collect();
    for option in tokens.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ',')) {
        match option {
            [] => {}
            [TokenTree::Ident(name), TokenTree::Punct(eq), value] if eq.as_char() == '=' => {
                match (name.to_string().as_str(), value) {
                    ("start_paused", TokenTree::Ident(v))
                        if ["true", "false"].contains(&v.to_string().as_str()) =>
                    {
                        start_paused = v.to_string();
                    }
                    ("workers", TokenTree::Literal(v))
                        if v.to_string().bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        workers = format!("{v}usize");
                    }
                    _ => {
                        return Err(error(
                            name.span(),
                            "unknown option: #[canopy::test] takes `start_paused = true|false` and `workers = N`",
                        ));
                    }
                }
            }
            other => {
                let span = other.first().map_or(Span::call_site(), TokenTree::span);
                return Err(error(
                    span,
                    "expected `name = value`: #[canopy::test] takes `start_paused = true|false` and `workers = N`",
                ));
            }
        }
    }
    Ok(format!("{start_paused}, {workers},").parse().unwrap())
}

/// Drops `async` before `fn` and wraps the body with `wrap`.
fn rewrite(item: TokenStream, what: &str, wrap: impl FnOnce(Group) -> TokenStream) -> TokenStream {
    let mut tokens: Vec<TokenTree> = item.into_iter().collect();
    let Some(TokenTree::Group(body)) = tokens.pop() else {
        return error(
            Span::call_site(),
            &format!("#[canopy::{what}] goes on an `async fn` with a body"),
        );
    };
    if body.delimiter() != Delimiter::Brace {
        return error(
            body.span(),
            &format!("#[canopy::{what}] goes on an `async fn` with a body"),
        );
    }
    let Some(at) = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "async"))
    else {
        return error(
            Span::call_site(),
            &format!("#[canopy::{what}] goes on an `async fn`"),
        );
    };
    tokens.remove(at);
    let mut out: TokenStream = tokens.into_iter().collect();
    out.extend([TokenTree::Group(Group::new(Delimiter::Brace, wrap(body)))]);
    out
}

/// `::canopy::__private::<function>(<args> async move <body>)`.
fn call(function: &str, args: TokenStream, body: Group) -> TokenStream {
    let mut inner = args;
    inner.extend([
        TokenTree::Ident(Ident::new("async", Span::call_site())),
        TokenTree::Ident(Ident::new("move", Span::call_site())),
        TokenTree::Group(body),
    ]);
    let mut out: TokenStream = format!("::canopy::__private::{function}").parse().unwrap();
    out.extend([TokenTree::Group(Group::new(Delimiter::Parenthesis, inner))]);
    out
}

/// `compile_error!(message)` at `span`.
fn error(span: Span, message: &str) -> TokenStream {
    let mut punct = Punct::new('!', Spacing::Alone);
    punct.set_span(span);
    let mut ident = Ident::new("compile_error", span);
    ident.set_span(span);
    let mut literal = Literal::string(message);
    literal.set_span(span);
    let mut group = Group::new(Delimiter::Parenthesis, TokenTree::Literal(literal).into());
    group.set_span(span);
    let mut semi = Punct::new(';', Spacing::Alone);
    semi.set_span(span);
    [
        TokenTree::Ident(ident),
        TokenTree::Punct(punct),
        TokenTree::Group(group),
        TokenTree::Punct(semi),
    ]
    .into_iter()
    .collect()
}
