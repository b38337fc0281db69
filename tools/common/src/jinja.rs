//! The one Jinja dialect of ktpipe: prompt templates (prompt-render) and predicates
//! (jsonl-split --where) share it, so what works in one works in the other.

use minijinja::{Environment, UndefinedBehavior};

/// An environment with strict undefined: a variable the record lacks is an error, never an
/// empty string. Auto-escaping is off (prompts are plain text, not HTML).
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_keep_trailing_newline(true);
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variables_are_errors_and_text_is_not_escaped() {
        let env = environment();
        let ok = env.render_str("{{ a }}", minijinja::context! { a => "<b> & 'c'" });
        assert_eq!(ok.unwrap(), "<b> & 'c'");
        assert!(
            env.render_str("{{ missing }}", minijinja::context! {})
                .is_err()
        );
        let expr = env.compile_expression("x == \"YES\"").unwrap();
        assert!(
            expr.eval(minijinja::context! { x => "YES" })
                .unwrap()
                .is_true()
        );
    }
}
