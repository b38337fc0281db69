//! CLI cases for stage-report: the table it prints from stages' `--stats` files, and the
//! errors that name a file it cannot use. Each case is a file in tests/cmd (trycmd).

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .default_bin_path(assert_cmd::cargo::cargo_bin("stage-report"))
        .case("tests/cmd/*.toml");
}
