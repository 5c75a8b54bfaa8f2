//! Python regular expressions (`re`, as in CPython 3.11) translated to the `regex` crate.
//!
//! `MATCHES` and `LIKE` run through Python's `re` in the reference, and its syntax and
//! semantics differ from the `regex` crate's in many small ways (`{` as a literal, `$`
//! before a final newline, `\s` taking U+001C–U+001F, which escapes exist, where flags
//! may stand, …). So a pattern is parsed here with the rules of CPython's
//! `re._parser` (same accepted language, same errors in kind) into a small tree, and that
//! tree is printed in the `regex` crate's syntax with every construct spelled out
//! explicitly: literals as `\x{…}`, classes as ranges, `.`/`^`/`$`/`\Z` as the
//! assertions they mean under the flags in force. Constructs the `regex` crate cannot
//! run (back-references, look-around, conditionals, atomic groups, possessive
//! repeats, `\N{…}`) are reported as unsupported instead of being approximated.
//!
//! Two assertions depend on the subject in ways the `regex` crate cannot express:
//! Python's `$` (without `MULTILINE`) matches at the end and before a final `\n`, and
//! its `\B` never matches in an empty subject. The printed pattern carries placeholders
//! for them, which [`Translated::variant`] fills in per kind of subject ([`Dollar`]).

use std::fmt::Write as _;

/// What kind of pattern: a `str` pattern, or the `bytes` pattern the reference compiles
/// from the same text (code points below 256) for binary values.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    Str,
    Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReError {
    /// Python's `re.compile` raises for this pattern.
    Invalid(String),
    /// Python accepts it, but it needs a construct the `regex` crate does not have.
    Unsupported(&'static str),
}

/// A translated pattern. Invariant: `source` is valid `regex` syntax once the
/// placeholders are replaced (for [`Mode::Bytes`], for `regex::bytes`).
#[derive(Clone, Debug)]
pub(crate) struct Translated {
    source: String,
    /// Whether `source` has a Python `$` (without `MULTILINE`) placeholder.
    pub(crate) has_dollar: bool,
    /// Whether `source` has a `\B` placeholder.
    pub(crate) has_non_boundary: bool,
    mode: Mode,
}

/// Stands for Python's `$` in [`Translated::source`]; printed literals are always
/// escapes, so the raw character never occurs otherwise.
const DOLLAR: char = '\u{F8FF}';
/// Stand for `\B` (Unicode, and ASCII-only), which Python never matches in an empty
/// subject (`re.search(r'\B', '')` finds nothing) and the `regex` crate does.
const NON_BOUNDARY: char = '\u{F8FE}';
const NON_BOUNDARY_ASCII: char = '\u{F8FD}';

/// Which spelling of Python's `$` suits a subject.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Dollar {
    /// The subject does not end in `\n`: `$` is the end (`\z`). Exact.
    Plain,
    /// The subject's only `\n` is its last character: `$` is `(?m:$)`. Exact.
    OneNewline,
    /// The subject ends in `\n` and has others: `$` becomes `\n?\z`, consuming that
    /// newline. Exact unless something after the `$` must itself match the final `\n`
    /// (`a$\n`), which `DISAGREEMENTS.md` lists.
    ManyNewlines,
}

impl Dollar {
    pub(crate) fn of(subject: &[u8]) -> Dollar {
        match subject.split_last() {
            Some((b'\n', rest)) if rest.contains(&b'\n') => Dollar::ManyNewlines,
            Some((b'\n', _)) => Dollar::OneNewline,
            _ => Dollar::Plain,
        }
    }
}

impl Translated {
    /// The pattern for subjects of one kind; `empty`: for the empty subject.
    pub(crate) fn variant(&self, d: Dollar, empty: bool) -> String {
        let dollar = match d {
            Dollar::Plain => r"\z",
            Dollar::OneNewline => "(?m:$)",
            Dollar::ManyNewlines => r"(?:\n?\z)",
        };
        let never = if self.mode == Mode::Bytes { NEVER_BYTE } else { NEVER };
        let (unicode, ascii) = match (empty, self.mode) {
            (true, _) => (never, never),
            (false, Mode::Str) => (r"\B", r"(?-u:\B)"),
            (false, Mode::Bytes) => (r"\B", r"\B"),
        };
        let mut out = self.source.clone();
        if self.has_dollar {
            out = out.replace(DOLLAR, dollar);
        }
        if self.has_non_boundary {
            out = out.replace(NON_BOUNDARY, unicode).replace(NON_BOUNDARY_ASCII, ascii);
        }
        out
    }
}

/// A class that matches nothing (for `str` patterns, and in `(?-u)` for bytes).
const NEVER: &str = r"[^\x00-\x{10FFFF}]";
const NEVER_BYTE: &str = r"[^\x00-\xFF]";

// ---------------------------------------------------------------------------------------
// Parsing (CPython 3.11 `re/_parser.py`, rule for rule)
// ---------------------------------------------------------------------------------------

const MAXREPEAT: u64 = 4_294_967_295;

#[derive(Clone, Copy, Debug, Default)]
struct Flags {
    ignore_case: bool,
    multiline: bool,
    dotall: bool,
    verbose: bool,
    ascii: bool,
    unicode: bool,
    locale: bool,
    template: bool,
}

#[derive(Clone, Copy, Debug)]
enum Cat {
    Digit,
    NotDigit,
    Space,
    NotSpace,
    Word,
    NotWord,
}

#[derive(Clone, Copy, Debug)]
enum Item {
    Lit(u32),
    Range(u32, u32),
    Cat(Cat),
}

/// Local flags that decide how a node prints.
#[derive(Clone, Copy, Debug)]
struct Local {
    ignore_case: bool,
    /// ASCII-only classes and case folding (`(?a)`, and every bytes pattern).
    ascii: bool,
}

#[derive(Debug)]
enum Node {
    Lit(u32, Local),
    Class {
        negate: bool,
        items: Vec<Item>,
        local: Local,
    },
    Any {
        dotall: bool,
    },
    /// `^` (`multiline`: at a line start).
    Begin {
        multiline: bool,
    },
    /// `$` (`multiline`: at a line end).
    End {
        multiline: bool,
    },
    BeginString,
    EndString,
    Boundary {
        negate: bool,
        ascii: bool,
    },
    /// A group, capturing or not: alternatives of sequences.
    Group(Vec<Vec<Node>>),
    Repeat {
        node: Box<Node>,
        min: u64,
        max: u64,
        lazy: bool,
    },
    /// Placeholder for a `(?#…)` comment or a flags group (never stands in a sequence).
    Nothing,
}

impl Node {
    fn is_at(&self) -> bool {
        matches!(
            self,
            Node::Begin { .. } | Node::End { .. } | Node::BeginString | Node::EndString | Node::Boundary { .. }
        )
    }
}

struct Tokenizer {
    chars: Vec<char>,
    index: usize,
    /// The next token: a character, or `\` with the character after it.
    next: Option<(char, Option<char>)>,
    istext: bool,
}

impl Tokenizer {
    fn new(chars: Vec<char>, istext: bool) -> Result<Tokenizer, ReError> {
        let mut t = Tokenizer { chars, index: 0, next: None, istext };
        t.advance()?;
        Ok(t)
    }

    fn advance(&mut self) -> Result<(), ReError> {
        let Some(&c) = self.chars.get(self.index) else {
            self.next = None;
            return Ok(());
        };
        if c == '\\' {
            let Some(&e) = self.chars.get(self.index + 1) else {
                return Err(invalid("bad escape (end of pattern)"));
            };
            self.index += 2;
            self.next = Some(('\\', Some(e)));
        } else {
            self.index += 1;
            self.next = Some((c, None));
        }
        Ok(())
    }

    fn get(&mut self) -> Result<Option<(char, Option<char>)>, ReError> {
        let this = self.next;
        self.advance()?;
        Ok(this)
    }

    /// `source.match(c)` for a plain character.
    fn eat(&mut self, c: char) -> Result<bool, ReError> {
        if self.next == Some((c, None)) {
            self.advance()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn next_char(&self) -> Option<char> {
        match self.next {
            Some((c, None)) => Some(c),
            _ => None,
        }
    }

    /// `getwhile(n, charset)`: up to `n` plain characters from the set.
    fn get_while(&mut self, n: usize, ok: impl Fn(char) -> bool) -> Result<String, ReError> {
        let mut out = String::new();
        for _ in 0..n {
            match self.next_char() {
                Some(c) if ok(c) => {
                    out.push(c);
                    self.advance()?;
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// `getuntil(terminator)`: the text up to the terminator (tokens joined, so escapes
    /// keep their backslash).
    fn get_until(&mut self, terminator: char, what: &str) -> Result<String, ReError> {
        let mut out = String::new();
        loop {
            match self.get()? {
                None => return Err(invalid(&format!("missing {what}"))),
                Some((c, None)) if c == terminator => {
                    if out.is_empty() {
                        return Err(invalid(&format!("missing {what}")));
                    }
                    return Ok(out);
                }
                Some((c, e)) => {
                    out.push(c);
                    out.extend(e);
                }
            }
        }
    }

    fn tell(&self) -> usize {
        match self.next {
            None => self.index,
            Some((_, None)) => self.index - 1,
            Some(_) => self.index - 2,
        }
    }

    fn seek(&mut self, index: usize) -> Result<(), ReError> {
        self.index = index;
        self.advance()
    }
}

fn invalid(msg: &str) -> ReError {
    ReError::Invalid(msg.to_owned())
}

struct State {
    flags: Flags,
    /// Per capturing group (index = group number - 1): closed yet?
    closed: Vec<bool>,
    names: Vec<String>,
}

enum Escape {
    Lit(u32),
    Cat(Cat),
    At(Node),
}

fn hex_value(s: &str) -> u32 {
    u32::from_str_radix(s, 16).expect("hex digits")
}

/// `_class_escape`
fn class_escape(src: &mut Tokenizer, e: char) -> Result<Item, ReError> {
    if let Some(c) = simple_escape(e) {
        return Ok(Item::Lit(c));
    }
    if e == 'b' {
        return Ok(Item::Lit(8));
    }
    if let Some(cat) = category(e) {
        return Ok(Item::Cat(cat));
    }
    let bad = || invalid(&format!("bad escape \\{e}"));
    match e {
        'x' => Ok(Item::Lit(fixed_hex(src, 2, 'x')?)),
        'u' if src.istext => Ok(Item::Lit(fixed_hex(src, 4, 'u')?)),
        'U' if src.istext => Ok(Item::Lit(big_u(src)?)),
        'N' if src.istext => Err(ReError::Unsupported("named character escape \\N{…}")),
        '0'..='7' => {
            let digits = format!("{e}{}", src.get_while(2, |c| ('0'..='7').contains(&c))?);
            let c = u32::from_str_radix(&digits, 8).expect("octal");
            if c > 0o377 {
                return Err(invalid("octal escape value outside of range 0-0o377"));
            }
            Ok(Item::Lit(c))
        }
        '8' | '9' => Err(bad()),
        c if c.is_ascii_alphabetic() => Err(bad()),
        c => Ok(Item::Lit(c as u32)),
    }
}

/// `ESCAPES` other than `\b`.
fn simple_escape(e: char) -> Option<u32> {
    Some(match e {
        'a' => 7,
        'f' => 12,
        'n' => 10,
        'r' => 13,
        't' => 9,
        'v' => 11,
        '\\' => 92,
        _ => return None,
    })
}

fn category(e: char) -> Option<Cat> {
    Some(match e {
        'd' => Cat::Digit,
        'D' => Cat::NotDigit,
        's' => Cat::Space,
        'S' => Cat::NotSpace,
        'w' => Cat::Word,
        'W' => Cat::NotWord,
        _ => return None,
    })
}

fn fixed_hex(src: &mut Tokenizer, n: usize, kind: char) -> Result<u32, ReError> {
    let digits = src.get_while(n, |c| c.is_ascii_hexdigit())?;
    if digits.len() != n {
        return Err(invalid(&format!("incomplete escape \\{kind}{digits}")));
    }
    Ok(hex_value(&digits))
}

fn big_u(src: &mut Tokenizer) -> Result<u32, ReError> {
    let c = fixed_hex(src, 8, 'U')?;
    if c > 0x10FFFF {
        return Err(invalid("bad escape \\U"));
    }
    Ok(c)
}

/// `_escape`
fn escape(src: &mut Tokenizer, e: char, state: &State, flags: Flags) -> Result<Escape, ReError> {
    match e {
        'A' => return Ok(Escape::At(Node::BeginString)),
        'Z' => return Ok(Escape::At(Node::EndString)),
        'b' | 'B' => {
            return Ok(Escape::At(Node::Boundary {
                negate: e == 'B',
                ascii: flags.ascii || !src.istext || flags.locale,
            }))
        }
        _ => {}
    }
    if let Some(cat) = category(e) {
        return Ok(Escape::Cat(cat));
    }
    if let Some(c) = simple_escape(e) {
        return Ok(Escape::Lit(c));
    }
    let bad = || invalid(&format!("bad escape \\{e}"));
    match e {
        'x' => Ok(Escape::Lit(fixed_hex(src, 2, 'x')?)),
        'u' if src.istext => Ok(Escape::Lit(fixed_hex(src, 4, 'u')?)),
        'U' if src.istext => Ok(Escape::Lit(big_u(src)?)),
        'N' if src.istext => Err(ReError::Unsupported("named character escape \\N{…}")),
        '0' => {
            let digits = src.get_while(2, |c| ('0'..='7').contains(&c))?;
            Ok(Escape::Lit(if digits.is_empty() { 0 } else { u32::from_str_radix(&digits, 8).expect("octal") }))
        }
        '1'..='9' => {
            let mut digits = e.to_string();
            if let Some(d) = src.next_char().filter(char::is_ascii_digit) {
                src.advance()?;
                digits.push(d);
                let octal = |c: char| ('0'..='7').contains(&c);
                if let Some(d3) = src.next_char().filter(|&c| octal(e) && octal(d) && octal(c)) {
                    src.advance()?;
                    digits.push(d3);
                    let c = u32::from_str_radix(&digits, 8).expect("octal");
                    if c > 0o377 {
                        return Err(invalid("octal escape value outside of range 0-0o377"));
                    }
                    return Ok(Escape::Lit(c));
                }
            }
            let group: usize = digits.parse().expect("digits");
            if group <= state.closed.len() {
                if !state.closed[group - 1] {
                    return Err(invalid("cannot refer to an open group"));
                }
                return Err(ReError::Unsupported("back-reference"));
            }
            Err(invalid(&format!("invalid group reference {group}")))
        }
        c if c.is_ascii_alphabetic() => Err(bad()),
        c => Ok(Escape::Lit(c as u32)),
    }
}

/// `_parse_sub`: alternatives up to `)` or the end.
fn parse_sub(src: &mut Tokenizer, state: &mut State, flags: Flags, nested: usize) -> Result<Vec<Vec<Node>>, ReError> {
    let mut items = Vec::new();
    let mut flags = flags;
    loop {
        let first = nested == 0 && items.is_empty();
        items.push(parse_seq(src, state, &mut flags, nested + 1, first)?);
        if !src.eat('|')? {
            break;
        }
        if nested == 0 {
            flags.verbose = state.flags.verbose;
        }
    }
    Ok(items)
}

/// `_parse`: one sequence. `flags` are those in force (global flags found at the start
/// are added to it and to the state).
fn parse_seq(
    src: &mut Tokenizer,
    state: &mut State,
    flags: &mut Flags,
    nested: usize,
    first: bool,
) -> Result<Vec<Node>, ReError> {
    let mut seq: Vec<Node> = Vec::new();
    while let Some((this, esc)) = src.next {
        if esc.is_none() && (this == '|' || this == ')') {
            break;
        }
        src.advance()?;
        if flags.verbose && esc.is_none() {
            if " \t\n\r\u{b}\u{c}".contains(this) {
                continue;
            }
            if this == '#' {
                while let Some(t) = src.get()? {
                    if t == ('\n', None) {
                        break;
                    }
                }
                continue;
            }
        }
        let local = Local { ignore_case: flags.ignore_case, ascii: flags.ascii || flags.locale || !src.istext };
        if let Some(e) = esc {
            match escape(src, e, state, *flags)? {
                Escape::Lit(c) => seq.push(Node::Lit(c, local)),
                Escape::Cat(cat) => seq.push(Node::Class { negate: false, items: vec![Item::Cat(cat)], local }),
                Escape::At(node) => seq.push(node),
            }
            continue;
        }
        match this {
            '[' => seq.push(parse_class(src, local)?),
            '*' | '+' | '?' | '{' => {
                let here = src.tell();
                let (min, max) = match this {
                    '?' => (0, 1),
                    '*' => (0, MAXREPEAT),
                    '+' => (1, MAXREPEAT),
                    _ => {
                        if src.next_char() == Some('}') {
                            seq.push(Node::Lit('{' as u32, local));
                            continue;
                        }
                        let lo = src.get_while(usize::MAX, |c| c.is_ascii_digit())?;
                        let hi =
                            if src.eat(',')? { src.get_while(usize::MAX, |c| c.is_ascii_digit())? } else { lo.clone() };
                        if !src.eat('}')? {
                            seq.push(Node::Lit('{' as u32, local));
                            src.seek(here)?;
                            continue;
                        }
                        let parse = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
                        let min = if lo.is_empty() { 0 } else { parse(&lo) };
                        let max = if hi.is_empty() { MAXREPEAT } else { parse(&hi) };
                        if (!lo.is_empty() && min >= MAXREPEAT) || (!hi.is_empty() && max >= MAXREPEAT) {
                            return Err(invalid("the repetition number is too large"));
                        }
                        if !hi.is_empty() && max < min {
                            return Err(invalid("min repeat greater than max repeat"));
                        }
                        (min, max)
                    }
                };
                let Some(item) = seq.pop() else { return Err(invalid("nothing to repeat")) };
                if item.is_at() {
                    return Err(invalid("nothing to repeat"));
                }
                if matches!(item, Node::Repeat { .. }) {
                    return Err(invalid("multiple repeat"));
                }
                if flags.template {
                    return Err(invalid("internal: unsupported template operator"));
                }
                let lazy = if src.eat('?')? {
                    true
                } else if src.eat('+')? {
                    return Err(ReError::Unsupported("possessive repeat"));
                } else {
                    false
                };
                seq.push(Node::Repeat { node: Box::new(item), min, max, lazy });
            }
            '.' => seq.push(Node::Any { dotall: flags.dotall }),
            '^' => seq.push(Node::Begin { multiline: flags.multiline }),
            '$' => seq.push(Node::End { multiline: flags.multiline }),
            '(' => match parse_group(src, state, flags, nested, first && seq.is_empty())? {
                Node::Nothing => {}
                node => seq.push(node),
            },
            c => seq.push(Node::Lit(c as u32, local)),
        }
    }
    Ok(seq)
}

fn parse_class(src: &mut Tokenizer, local: Local) -> Result<Node, ReError> {
    let mut items: Vec<Item> = Vec::new();
    let negate = src.eat('^')?;
    let unterminated = || invalid("unterminated character set");
    loop {
        let (this, esc) = src.get()?.ok_or_else(unterminated)?;
        if esc.is_none() && this == ']' && !items.is_empty() {
            break;
        }
        let code1 = match esc {
            Some(e) => class_escape(src, e)?,
            None => Item::Lit(this as u32),
        };
        if src.eat('-')? {
            let (that, esc2) = src.get()?.ok_or_else(unterminated)?;
            if esc2.is_none() && that == ']' {
                items.push(code1);
                items.push(Item::Lit('-' as u32));
                break;
            }
            let code2 = match esc2 {
                Some(e) => class_escape(src, e)?,
                None => Item::Lit(that as u32),
            };
            match (code1, code2) {
                (Item::Lit(lo), Item::Lit(hi)) if lo <= hi => items.push(Item::Range(lo, hi)),
                _ => return Err(invalid("bad character range")),
            }
        } else {
            items.push(code1);
        }
    }
    Ok(Node::Class { negate, items, local })
}

/// After `(`: a group, a comment or flags (both give [`Node::Nothing`]), or one of the
/// unsupported extensions. `at_start`: nothing precedes it in the top-level first
/// alternative (where global flags may stand).
fn parse_group(
    src: &mut Tokenizer,
    state: &mut State,
    flags: &mut Flags,
    nested: usize,
    at_start: bool,
) -> Result<Node, ReError> {
    let mut capture = true;
    let mut name = None;
    let mut inner = *flags;
    if src.eat('?')? {
        let Some((c, esc)) = src.get()? else { return Err(invalid("unexpected end of pattern")) };
        let c = if esc.is_some() { '\\' } else { c };
        match c {
            'P' => {
                if src.eat('<')? {
                    let n = src.get_until('>', "group name")?;
                    check_group_name(&n)?;
                    name = Some(n);
                } else if src.eat('=')? {
                    let n = src.get_until(')', "group name")?;
                    check_group_name(&n)?;
                    let Some(gid) = state.names.iter().position(|x| *x == n) else {
                        return Err(invalid(&format!("unknown group name {n:?}")));
                    };
                    if !state.closed[gid] {
                        return Err(invalid("cannot refer to an open group"));
                    }
                    return Err(ReError::Unsupported("back-reference"));
                } else {
                    return Err(invalid("unknown extension ?P"));
                }
            }
            ':' => capture = false,
            '#' => loop {
                match src.get()? {
                    None => return Err(invalid("missing ), unterminated comment")),
                    Some((')', None)) => return Ok(Node::Nothing),
                    Some(_) => {}
                }
            },
            '=' | '!' => return Err(ReError::Unsupported("look-ahead")),
            '<' => {
                return match src.get()? {
                    Some(('=' | '!', None)) => Err(ReError::Unsupported("look-behind")),
                    None => Err(invalid("unexpected end of pattern")),
                    Some(_) => Err(invalid("unknown extension ?<")),
                }
            }
            '(' => return Err(ReError::Unsupported("conditional group")),
            '>' => return Err(ReError::Unsupported("atomic group")),
            c if "aiLmsuxt-".contains(c) => match parse_flags(src, c)? {
                FlagsGroup::Global(add) => {
                    if !at_start {
                        return Err(invalid("global flags not at the start of the expression"));
                    }
                    // They apply to the whole pattern, which they begin.
                    apply(&mut state.flags, &add, true);
                    apply(flags, &add, true);
                    return Ok(Node::Nothing);
                }
                FlagsGroup::Scoped(add, del) => {
                    if add.contains(['a', 'u', 'L']) {
                        inner.ascii = false;
                        inner.unicode = false;
                        inner.locale = false;
                    }
                    apply(&mut inner, &add, true);
                    apply(&mut inner, &del, false);
                    capture = false;
                }
            },
            _ => return Err(invalid("unknown extension")),
        }
    }
    let gid = if capture {
        if let Some(n) = &name {
            if state.names.iter().any(|x| x == n) {
                return Err(invalid("redefinition of group name"));
            }
        }
        state.closed.push(false);
        state.names.push(name.unwrap_or_default());
        Some(state.closed.len() - 1)
    } else {
        None
    };
    let alternatives = parse_sub(src, state, inner, nested + 1)?;
    if !src.eat(')')? {
        return Err(invalid("missing ), unterminated subpattern"));
    }
    if let Some(g) = gid {
        state.closed[g] = true;
    }
    Ok(Node::Group(alternatives))
}

fn check_group_name(n: &str) -> Result<(), ReError> {
    let mut chars = n.chars();
    let ok =
        chars.next().is_some_and(|c| c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(invalid(&format!("bad character in group name {n:?}")))
    }
}

fn apply(f: &mut Flags, letters: &str, on: bool) {
    for c in letters.chars() {
        match c {
            'i' => f.ignore_case = on,
            'm' => f.multiline = on,
            's' => f.dotall = on,
            'x' => f.verbose = on,
            'a' => f.ascii = on,
            'u' => f.unicode = on,
            'L' => f.locale = on,
            't' => f.template = on,
            _ => {}
        }
    }
}

enum FlagsGroup {
    /// `(?i)`: the letters turned on.
    Global(String),
    /// `(?i-m:`: the letters turned on and off.
    Scoped(String, String),
}

/// `_parse_flags`, after `(?` and its first letter `c`.
fn parse_flags(src: &mut Tokenizer, mut c: char) -> Result<FlagsGroup, ReError> {
    let is_flag = |c: char| "aiLmsuxt".contains(c);
    let type_flag = |c: char| "auL".contains(c);
    let mut add = String::new();
    let mut del = String::new();
    if c != '-' {
        loop {
            if src.istext && c == 'L' {
                return Err(invalid("bad inline flags: cannot use 'L' flag with a str pattern"));
            }
            if !src.istext && c == 'u' {
                return Err(invalid("bad inline flags: cannot use 'u' flag with a bytes pattern"));
            }
            add.push(c);
            if type_flag(c) && add.chars().any(|x| type_flag(x) && x != c) {
                return Err(invalid("bad inline flags: flags 'a', 'u' and 'L' are incompatible"));
            }
            c = match src.get()? {
                None => return Err(invalid("missing -, : or )")),
                Some((c, None)) => c,
                Some(_) => return Err(invalid("missing -, : or )")),
            };
            if ")-:".contains(c) {
                break;
            }
            if !is_flag(c) {
                return Err(invalid(if c.is_alphabetic() { "unknown flag" } else { "missing -, : or )" }));
            }
        }
    }
    if c == ')' {
        return Ok(FlagsGroup::Global(add));
    }
    if add.contains('t') {
        return Err(invalid("bad inline flags: cannot turn on global flag"));
    }
    if c == '-' {
        c = match src.get()? {
            Some((c, None)) if is_flag(c) => c,
            Some((c, None)) if c.is_alphabetic() => return Err(invalid("unknown flag")),
            _ => return Err(invalid("missing flag")),
        };
        loop {
            if type_flag(c) {
                return Err(invalid("bad inline flags: cannot turn off flags 'a', 'u' and 'L'"));
            }
            del.push(c);
            c = match src.get()? {
                None => return Err(invalid("missing :")),
                Some((c, None)) => c,
                Some(_) => return Err(invalid("missing :")),
            };
            if c == ':' {
                break;
            }
            if !is_flag(c) {
                return Err(invalid(if c.is_alphabetic() { "unknown flag" } else { "missing :" }));
            }
        }
    }
    if del.contains('t') {
        return Err(invalid("bad inline flags: cannot turn off global flag"));
    }
    if add.chars().any(|c| del.contains(c)) {
        return Err(invalid("bad inline flags: flag turned on and off"));
    }
    Ok(FlagsGroup::Scoped(add, del))
}

/// Parses a Python pattern and prints it in `regex` syntax.
pub(crate) fn translate(pattern: &str, mode: Mode) -> Result<Translated, ReError> {
    let istext = mode == Mode::Str;
    let mut src = Tokenizer::new(pattern.chars().collect(), istext)?;
    let mut state = State { flags: Flags::default(), closed: Vec::new(), names: Vec::new() };
    let alternatives = parse_sub(&mut src, &mut state, Flags::default(), 0)?;
    // `fix_flags`
    let f = state.flags;
    if istext && f.ascii && f.unicode {
        return Err(invalid("ASCII and UNICODE flags are incompatible"));
    }
    if !istext && f.ascii && f.locale {
        return Err(invalid("ASCII and LOCALE flags are incompatible"));
    }
    if src.next.is_some() {
        return Err(invalid("unbalanced parenthesis"));
    }
    let mut out = String::new();
    if mode == Mode::Bytes {
        out.push_str("(?-u)");
    }
    let mut p = Printer { out, mode, has_dollar: false, has_non_boundary: false };
    p.alternatives(&alternatives);
    Ok(Translated { has_dollar: p.has_dollar, has_non_boundary: p.has_non_boundary, source: p.out, mode })
}

// ---------------------------------------------------------------------------------------
// Printing in `regex` syntax
// ---------------------------------------------------------------------------------------

struct Printer {
    out: String,
    mode: Mode,
    has_dollar: bool,
    has_non_boundary: bool,
}

/// Python's `\s` for `str` patterns (`str.isspace`): the `regex` crate's `\s` lacks
/// U+001C–U+001F, so the set is spelled out.
const UNICODE_SPACE: &[(u32, u32)] = &[
    (0x09, 0x0D),
    (0x1C, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
];
const ASCII_SPACE: &[(u32, u32)] = &[(0x09, 0x0D), (0x20, 0x20)];
const ASCII_DIGIT: &[(u32, u32)] = &[(0x30, 0x39)];
const ASCII_WORD: &[(u32, u32)] = &[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)];

impl Printer {
    fn alternatives(&mut self, alts: &[Vec<Node>]) {
        for (i, seq) in alts.iter().enumerate() {
            if i > 0 {
                self.out.push('|');
            }
            for node in seq {
                self.node(node);
            }
        }
    }

    fn node(&mut self, node: &Node) {
        match node {
            Node::Lit(c, local) => self.literal(*c, *local),
            Node::Class { negate, items, local } => self.class(*negate, items, *local),
            Node::Any { dotall: true } => self.out.push_str("(?s:.)"),
            Node::Any { dotall: false } => self.out.push_str(r"[^\n]"),
            Node::Begin { multiline: false } | Node::BeginString => self.out.push_str(r"\A"),
            Node::Begin { multiline: true } => self.out.push_str("(?m:^)"),
            Node::End { multiline: true } => self.out.push_str("(?m:$)"),
            Node::End { multiline: false } => {
                self.has_dollar = true;
                self.out.push(DOLLAR);
            }
            Node::EndString => self.out.push_str(r"\z"),
            Node::Boundary { negate: true, ascii } => {
                self.has_non_boundary = true;
                self.out.push(if *ascii { NON_BOUNDARY_ASCII } else { NON_BOUNDARY });
            }
            Node::Boundary { negate: false, ascii } => {
                self.out.push_str(if *ascii && self.mode == Mode::Str { r"(?-u:\b)" } else { r"\b" });
            }
            Node::Group(alts) => {
                self.out.push_str("(?:");
                self.alternatives(alts);
                self.out.push(')');
            }
            Node::Repeat { node, min, max, lazy } => {
                self.out.push_str("(?:");
                self.node(node);
                self.out.push(')');
                match (*min, *max) {
                    (0, MAXREPEAT) => self.out.push('*'),
                    (1, MAXREPEAT) => self.out.push('+'),
                    (0, 1) => self.out.push('?'),
                    (m, MAXREPEAT) => {
                        let _ = write!(self.out, "{{{m},}}");
                    }
                    (m, n) => {
                        let _ = write!(self.out, "{{{m},{n}}}");
                    }
                }
                if *lazy {
                    self.out.push('?');
                }
            }
            Node::Nothing => {}
        }
    }

    fn code(&mut self, c: u32) {
        let _ = match self.mode {
            Mode::Str => write!(self.out, "\\x{{{c:X}}}"),
            Mode::Bytes => write!(self.out, "\\x{c:02X}"),
        };
    }

    fn literal(&mut self, c: u32, local: Local) {
        if self.mode == Mode::Str && (0xD800..=0xDFFF).contains(&c) {
            // A lone surrogate can be written in a Python pattern but never occurs in a
            // subject (a Rust string).
            self.out.push_str(NEVER);
            return;
        }
        if !local.ignore_case {
            self.code(c);
            return;
        }
        if local.ascii || self.mode == Mode::Bytes {
            // ASCII-only case folding: `(?i)` in the `regex` crate would fold Unicode too.
            match char::from_u32(c).filter(char::is_ascii_alphabetic) {
                Some(l) => {
                    self.out.push('[');
                    self.code(u32::from(l.to_ascii_lowercase()));
                    self.code(u32::from(l.to_ascii_uppercase()));
                    self.out.push(']');
                }
                None => self.code(c),
            }
        } else {
            self.out.push_str("(?i:");
            self.code(c);
            self.out.push(')');
        }
    }

    fn class(&mut self, negate: bool, items: &[Item], local: Local) {
        let ascii = local.ascii || self.mode == Mode::Bytes;
        let max = if self.mode == Mode::Bytes { 0xFF } else { 0x10FFFF };
        // Plain ranges (surrogates cut out; with ASCII-only case folding, the other case
        // of ASCII letters added), then categories.
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        let mut cats: Vec<Cat> = Vec::new();
        for item in items {
            match *item {
                Item::Lit(c) => ranges.push((c, c)),
                Item::Range(a, b) => ranges.push((a, b)),
                Item::Cat(c) => cats.push(c),
            }
        }
        if self.mode == Mode::Str {
            ranges = ranges
                .into_iter()
                .flat_map(|(a, b)| {
                    let low = (a < 0xD800).then(|| (a, b.min(0xD7FF)));
                    let high = (b > 0xDFFF).then(|| (a.max(0xE000), b));
                    low.into_iter().chain(high)
                })
                .collect();
        }
        if local.ignore_case && ascii {
            let mut extra = Vec::new();
            for &(a, b) in &ranges {
                for (lo, hi, delta) in [(0x41u32, 0x5Au32, 0x20i64), (0x61, 0x7A, -0x20)] {
                    let (x, y) = (a.max(lo), b.min(hi));
                    if x <= y {
                        extra.push(((i64::from(x) + delta) as u32, (i64::from(y) + delta) as u32));
                    }
                }
            }
            ranges.extend(extra);
        }
        if ranges.is_empty() && cats.is_empty() {
            // Nothing left: a class that matches nothing, or (negated) anything.
            if negate {
                self.out.push_str(if self.mode == Mode::Bytes { "(?s-u:.)" } else { "(?s:.)" });
            } else {
                self.out.push_str(if self.mode == Mode::Bytes { NEVER_BYTE } else { NEVER });
            }
            return;
        }
        let fold = local.ignore_case && !ascii;
        if fold {
            self.out.push_str("(?i:");
        }
        self.out.push('[');
        if negate {
            self.out.push('^');
        }
        for (a, b) in ranges {
            self.code(a);
            if b > a {
                self.out.push('-');
                self.code(b.min(max));
            }
        }
        for cat in cats {
            self.category(cat, ascii);
        }
        self.out.push(']');
        if fold {
            self.out.push(')');
        }
    }

    /// A category inside a class: a set of ranges, or a nested negated class.
    fn category(&mut self, cat: Cat, ascii: bool) {
        let (negated, set): (bool, Option<&[(u32, u32)]>) = match (cat, ascii) {
            (Cat::Digit, true) => (false, Some(ASCII_DIGIT)),
            (Cat::NotDigit, true) => (true, Some(ASCII_DIGIT)),
            (Cat::Space, true) => (false, Some(ASCII_SPACE)),
            (Cat::NotSpace, true) => (true, Some(ASCII_SPACE)),
            (Cat::Word, true) => (false, Some(ASCII_WORD)),
            (Cat::NotWord, true) => (true, Some(ASCII_WORD)),
            (Cat::Space, false) => (false, Some(UNICODE_SPACE)),
            (Cat::NotSpace, false) => (true, Some(UNICODE_SPACE)),
            // Python's `\d` is Unicode `Nd`, as the `regex` crate's; its `\w` is
            // `str.isalnum()` or `_`: letters and numbers, without the marks and
            // connector punctuation the `regex` crate adds.
            (Cat::Digit, false) => {
                self.out.push_str(r"\p{Nd}");
                return;
            }
            (Cat::NotDigit, false) => {
                self.out.push_str(r"\P{Nd}");
                return;
            }
            (Cat::Word, false) => {
                self.out.push_str(r"\p{L}\p{N}_");
                return;
            }
            (Cat::NotWord, false) => (true, None),
        };
        self.out.push('[');
        if negated {
            self.out.push('^');
        }
        match set {
            Some(set) => {
                for &(a, b) in set {
                    self.code(a);
                    if b > a {
                        self.out.push('-');
                        self.code(b);
                    }
                }
            }
            None => self.out.push_str(r"\p{L}\p{N}_"),
        }
        self.out.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rust(p: &str) -> Result<String, ReError> {
        translate(p, Mode::Str).map(|t| t.variant(Dollar::Plain, false))
    }

    fn is_match(p: &str, s: &str) -> bool {
        let t = translate(p, Mode::Str).unwrap_or_else(|e| panic!("{p}: {e:?}"));
        regex::Regex::new(&t.variant(Dollar::of(s.as_bytes()), s.is_empty()))
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .is_match(s)
    }

    #[test]
    fn python_semantics() {
        // (pattern, subject, Python's re.search answer)
        let cases: &[(&str, &str, bool)] = &[
            ("l+", "hello", true),
            (".lo$", "hello", true),
            ("^ab$", "ab\n", true),
            ("^ab$", "ab\n\n", false),
            ("^ab\\Z", "ab\n", false),
            ("a{", "a{", true),
            ("a{,2}b", "aab", true),
            ("a{2,}", "a", false),
            ("x{}", "x{}", true),
            ("x{1", "x{1", true),
            ("[]a]", "]", true),
            ("[^]a]", "b", true),
            ("[a-]", "-", true),
            ("\\s", "\u{1c}", true),
            ("\\w", "\u{301}", false),
            ("(?i)straße", "STRASSE", false),
            ("(?i)k", "K", true),
            ("(?a)(?i)k", "\u{212a}", false),
            ("(?x) a b # comment\n c", "abc", true),
            ("(?s).", "\n", true),
            (".", "\n", false),
            ("(?m)^b", "a\nb", true),
            ("^b", "a\nb", false),
            ("\\x41\\u0042\\101", "ABA", true),
            ("\\0", "\0", true),
            ("(?i:a)b", "Ab", true),
            ("(?i:a)b", "AB", false),
            ("a|", "zzz", true),
            ("\\bfoo\\b", "a foo.", true),
            ("[\\d-]", "-", true),
            ("[\\w]+$", "ab", true),
            ("\\\u{e9}", "\u{e9}", true),
            ("\\B", "", false),
            ("\\B", "a", false),
            ("\\B", "ab", true),
            ("(?a)\\B", "", false),
        ];
        for &(p, s, want) in cases {
            assert_eq!(is_match(p, s), want, "{p:?} on {s:?}: {:?}", rust(p));
        }
    }

    #[test]
    fn python_errors_and_unsupported() {
        for bad in [
            "a**", "*a", "a{3,2}", "(", ")", "[a", "\\", "\\q", "a(?i)", "(?L)a", "[z-a]", "[\\w-z]", "\\9", "(a)\\2",
            "(?P<1a>x)", "(?P<a>x)(?P<a>y)", "a{4294967295}", "(?t)a*", "(?a)(?u)x", "(?#x", "^*", "\\Ux",
        ] {
            assert!(
                matches!(translate(bad, Mode::Str), Err(ReError::Invalid(_))),
                "{bad}: {:?}",
                translate(bad, Mode::Str)
            );
        }
        for unsupported in ["(a)\\1", "(?P<n>a)(?P=n)", "(?=a)", "(?<!a)b", "(?(1)a|b)", "(?>a)", "a*+", "\\N{EM DASH}"]
        {
            assert!(matches!(translate(unsupported, Mode::Str), Err(ReError::Unsupported(_))), "{unsupported}");
        }
        assert!(matches!(translate("\\u0041", Mode::Bytes), Err(ReError::Invalid(_))));
        assert!(matches!(translate("(?u)a", Mode::Bytes), Err(ReError::Invalid(_))));
        assert!(translate("(?L)a", Mode::Bytes).is_ok());
    }

    #[test]
    fn bytes_patterns() {
        let m = |p: &str, s: &[u8]| {
            let t = translate(p, Mode::Bytes).unwrap();
            regex::bytes::Regex::new(&t.variant(Dollar::of(s), s.is_empty())).unwrap().is_match(s)
        };
        assert!(m("\\x61li[c\\x01]e", b"alice"));
        assert!(m(".*\\x03", b"\x01\x02\x03\x04"));
        assert!(m("\u{e9}", b"\xe9"));
        assert!(!m("\\w", b"\xe9"));
        assert!(m("(?i)A", b"a"));
    }
}
