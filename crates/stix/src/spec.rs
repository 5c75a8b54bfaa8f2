//! The STIX specification as data: object families, and (per type) required properties,
//! reference targets and vocabularies. One table row per rule, named after the spec.
//!
//! Sources: STIX 2.1 OS (sections cited per table), cross-checked against the JSON schemas
//! and `musts.py`/`shoulds.py` of `stix2-validator` 3.2.0 and the `stix2` 3.0 library.
//! Places where we knowingly follow the spec instead of the validator are listed in
//! `docs/conformance.md`. The interpreter is [`crate::validate`].

use crate::object::Category;

/// STIX 2.1 Domain Objects.
pub const SDO_TYPES: &[&str] = &[
    "attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident", "indicator",
    "infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note", "observed-data", "opinion",
    "report", "threat-actor", "tool", "vulnerability",
];

/// STIX 2.1 Relationship Objects.
pub const SRO_TYPES: &[&str] = &["relationship", "sighting"];

/// STIX 2.1 Cyber-observable Objects.
pub const SCO_TYPES: &[&str] = &[
    "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message", "file", "ipv4-addr",
    "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url", "user-account",
    "windows-registry-key", "x509-certificate",
];

pub fn category(t: &str) -> Category {
    match t {
        "marking-definition" => Category::MarkingDefinition,
        "language-content" => Category::LanguageContent,
        "extension-definition" => Category::ExtensionDefinition,
        "bundle" => Category::Bundle,
        _ if SDO_TYPES.contains(&t) => Category::Sdo,
        _ if SRO_TYPES.contains(&t) => Category::Sro,
        _ if SCO_TYPES.contains(&t) => Category::Sco,
        _ => Category::Custom,
    }
}

// ---------------------------------------------------------------------------------------
// The vocabulary of the tables
// ---------------------------------------------------------------------------------------

/// How one property value is checked. A [`Prop`] says whether the property is a list of
/// these.
#[derive(Clone, Copy, Debug)]
pub enum Ty {
    /// Any non-null JSON value.
    Any,
    Str,
    Bool,
    /// An integer in `min..=max`; a violation is reported under the given rule name.
    Int(i64, i64, &'static str),
    /// A number in `min..=max`.
    Float(f64, f64, &'static str),
    /// A STIX timestamp (common data type “timestamp”).
    Timestamp,
    /// A STIX timestamp without fractional seconds.
    TimestampSecs,
    /// An identifier (common data type “identifier”) whose type part must be one of the targets.
    Ref(Targets),
    /// The `hashes` common data type.
    Hashes,
    /// A dictionary (common data type “dictionary”) whose values are as given.
    Dict(DictVals),
    /// A base64 string (common data type `binary`).
    Binary,
    /// An even number of hex digits (common data type `hex`).
    Hex,
    /// An open vocabulary: values outside it are a warning (SHOULD).
    Vocab(&'static Vocab),
    /// An enumeration: values outside it are an error (MUST).
    Enum(&'static Vocab),
    /// An embedded object checked against its own table.
    Struct(&'static ObjSpec),
    /// An RFC 3986 URI.
    Url,
    /// An RFC 1034 / RFC 5890 domain name.
    DomainName,
    /// An IPv4 address or CIDR block.
    Ipv4,
    /// An IPv6 address or CIDR block.
    Ipv6,
    /// A colon-delimited lower-case MAC-48 address.
    MacAddr,
    /// An email address (addr-spec).
    EmailAddr,
    /// A media type from the IANA registry.
    MediaType,
    /// A character set name from the IANA registry.
    Charset,
    /// A CPE 2.3 formatted string.
    Cpe,
    /// An RFC 5646 language tag.
    Lang,
    /// An ISO 639-2 three-letter language code.
    SoftwareLang,
    /// A Windows registry key with its hive spelled out.
    RegistryKey,
    /// A relationship type: ASCII `a-z`, `0-9`, `-`.
    RelationshipType,
    /// Any JSON object.
    Object,
    /// The `extensions` dictionary, checked against the type's extension table.
    Extensions,
    /// Granular-marking selectors (Granular Markings), resolved against the marked object.
    Selector,
}

/// What a dictionary's values must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DictVals {
    Any,
    Str,
    StrOrInt,
    StrOrStrList,
    Int,
}

/// Which object types a reference may point to.
#[derive(Clone, Copy, Debug)]
pub enum Targets {
    /// Exactly these types.
    Types(&'static [&'static str]),
    /// Any SDO (custom object types are accepted: we cannot tell their family).
    Sdo,
    /// Any SCO (or custom type).
    Sco,
    /// Any SDO or SCO (or custom type): relationship endpoints.
    SdoOrSco,
    /// Any SCO or SRO (or custom type): observed-data `object_refs`.
    ScoOrSro,
    /// Any object but a bundle or another language-content: what language-content translates.
    Translatable,
    /// Anything.
    Any,
}

/// A named list of values (an open vocabulary or an enumeration).
#[derive(Debug)]
pub struct Vocab {
    pub name: &'static str,
    pub values: &'static [&'static str],
}

/// One property of an object: its name, whether it is a list, and how values are checked.
#[derive(Clone, Copy, Debug)]
pub struct Prop {
    pub name: &'static str,
    pub list: bool,
    pub ty: Ty,
}

const fn p(name: &'static str, ty: Ty) -> Prop {
    Prop { name, list: false, ty }
}

const fn l(name: &'static str, ty: Ty) -> Prop {
    Prop { name, list: true, ty }
}

/// A constraint between properties of one object.
#[derive(Clone, Copy, Debug)]
pub enum Rule {
    /// At least one of these properties MUST be present.
    AtLeastOne(&'static [&'static str]),
    /// Exactly one of these properties MUST be present.
    ExactlyOne(&'static [&'static str]),
    /// At most one of these properties may be present.
    AtMostOne(&'static [&'static str]),
    /// When `prop` is present, all of `needs` MUST be present.
    Requires { prop: &'static str, needs: &'static [&'static str] },
    /// When the boolean `flag` has `value`, `required` MUST and `forbidden` MUST NOT be present.
    IfFlag { flag: &'static str, value: bool, required: &'static [&'static str], forbidden: &'static [&'static str] },
    /// At least one of these groups MUST be fully present (location: region | country | lat+long).
    AnyGroup(&'static [&'static [&'static str]]),
    /// `later` MUST be later than (`strict`) or equal to `earlier`; reported under `rule`.
    Order { later: &'static str, earlier: &'static str, strict: bool, rule: &'static str },
    /// A check too irregular for a table row, implemented by name in the interpreter.
    Special(Special),
}

/// Irregular checks, each implemented once in [`crate::validate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    /// External references with source_name `cve`/`capec` need a well-formed external_id.
    ExternalId,
    /// marking-definition: definition_type/definition shape, the fixed TLP objects.
    MarkingDefinition,
    /// extension-definition: extension_properties only with toplevel-property-extension.
    ExtensionProperties,
    /// language-content: keys of `contents` are language tags, nested keys property names.
    LanguageContents,
    /// observed-data (deprecated `objects`): embedded SCOs and the references between them.
    ObservedObjects,
    /// indicator: a `stix` pattern must be in the patterning grammar (via `cairn-pattern`).
    Pattern,
}

/// The table for one object type or embedded object type.
#[derive(Debug)]
pub struct ObjSpec {
    pub name: &'static str,
    /// Type-specific properties (the common properties come from the family).
    pub props: &'static [Prop],
    pub required: &'static [&'static str],
    pub rules: &'static [Rule],
    /// SCOs: the ID contributing properties (Identifier section), in the spec's order.
    pub id_contributing: &'static [&'static str],
    /// SCOs: the predefined extensions (SCO sections) this type may carry.
    pub extensions: &'static [&'static ObjSpec],
}

impl ObjSpec {
    pub fn prop(&self, name: &str) -> Option<&'static Prop> {
        self.props.iter().find(|p| p.name == name)
    }
}

const fn obj(
    name: &'static str,
    props: &'static [Prop],
    required: &'static [&'static str],
    rules: &'static [Rule],
) -> ObjSpec {
    ObjSpec { name, props, required, rules, id_contributing: &[], extensions: &[] }
}

const fn int(min: i64, max: i64) -> Ty {
    Ty::Int(min, max, "range")
}

const ANY_INT: Ty = Ty::Int(i64::MIN, i64::MAX, "range");
const NON_NEG: Ty = Ty::Int(0, i64::MAX, "range");
const ANY_FLOAT: Ty = Ty::Float(f64::NEG_INFINITY, f64::INFINITY, "range");

const fn refs(types: &'static [&'static str]) -> Ty {
    Ty::Ref(Targets::Types(types))
}

// ---------------------------------------------------------------------------------------
// Vocabularies (STIX 2.1 section “Vocabularies”) and enumerations
// ---------------------------------------------------------------------------------------

macro_rules! vocab {
    ($id:ident, $name:literal, [$($v:literal),* $(,)?]) => {
        pub static $id: Vocab = Vocab { name: $name, values: &[$($v),*] };
    };
}

vocab!(
    ATTACK_MOTIVATION,
    "attack-motivation-ov",
    [
        "accidental", "coercion", "dominance", "ideology", "notoriety", "organizational-gain", "personal-gain",
        "personal-satisfaction", "revenge", "unpredictable",
    ]
);
vocab!(
    ATTACK_RESOURCE_LEVEL,
    "attack-resource-level-ov",
    ["individual", "club", "contest", "team", "organization", "government",]
);
vocab!(GROUPING_CONTEXT, "grouping-context-ov", ["suspicious-activity", "malware-analysis", "unspecified"]);
vocab!(IDENTITY_CLASS, "identity-class-ov", ["individual", "group", "system", "organization", "class", "unknown"]);
vocab!(
    IMPLEMENTATION_LANGUAGE,
    "implementation-language-ov",
    [
        "applescript", "bash", "c", "c++", "c#", "go", "java", "javascript", "lua", "objective-c", "perl", "php",
        "powershell", "python", "ruby", "scala", "swift", "typescript", "visual-basic", "x86-32", "x86-64",
    ]
);
vocab!(
    INDICATOR_TYPE,
    "indicator-type-ov",
    ["anomalous-activity", "anonymization", "benign", "compromised", "malicious-activity", "attribution", "unknown",]
);
vocab!(
    INDUSTRY_SECTOR,
    "industry-sector-ov",
    [
        "agriculture", "aerospace", "automotive", "chemical", "commercial", "communications", "construction",
        "defense", "education", "energy", "engineering", "entertainment", "financial-services", "government",
        "emergency-services", "government-emergency-services", "government-local", "government-national",
        "government-public-services", "government-regional", "healthcare", "hospitality-leisure", "infrastructure",
        "dams", "nuclear", "water", "insurance", "manufacturing", "mining", "non-profit", "pharmaceuticals", "retail",
        "technology", "telecommunications", "transportation", "utilities",
    ]
);
vocab!(
    INFRASTRUCTURE_TYPE,
    "infrastructure-type-ov",
    [
        "amplification", "anonymization", "botnet", "command-and-control", "control-system", "exfiltration",
        "firewall", "hosting-malware", "hosting-target-lists", "phishing", "reconnaissance", "routers-switches",
        "staging", "workstation", "unknown",
    ]
);
vocab!(MALWARE_RESULT, "malware-result-ov", ["malicious", "suspicious", "benign", "unknown"]);
vocab!(
    MALWARE_TYPE,
    "malware-type-ov",
    [
        "adware", "backdoor", "bot", "bootkit", "ddos", "downloader", "dropper", "exploit-kit", "keylogger",
        "ransomware", "remote-access-trojan", "resource-exploitation", "rogue-security-software", "rootkit",
        "screen-capture", "spyware", "trojan", "unknown", "virus", "webshell", "wiper", "worm",
    ]
);
vocab!(
    MALWARE_CAPABILITIES,
    "malware-capabilities-ov",
    [
        "accesses-remote-machines", "anti-debugging", "anti-disassembly", "anti-emulation", "anti-memory-forensics",
        "anti-sandbox", "anti-vm", "captures-input-peripherals", "captures-output-peripherals",
        "captures-system-state-data", "cleans-traces-of-infection", "commits-fraud", "communicates-with-c2",
        "compromises-data-availability", "compromises-data-integrity", "compromises-system-availability",
        "controls-local-machine", "degrades-security-software", "degrades-system-updates", "determines-c2-server",
        "emails-spam", "escalates-privileges", "evades-av", "exfiltrates-data", "fingerprints-host", "hides-artifacts",
        "hides-executing-code", "infects-files", "infects-remote-machines", "installs-other-components",
        "persists-after-system-reboot", "prevents-artifact-access", "prevents-artifact-deletion",
        "probes-network-environment", "self-modifies", "steals-authentication-credentials",
        "violates-system-operational-integrity",
    ]
);
vocab!(PATTERN_TYPE, "pattern-type-ov", ["stix", "pcre", "sigma", "snort", "suricata", "yara"]);
vocab!(
    PROCESSOR_ARCHITECTURE,
    "processor-architecture-ov",
    ["alpha", "arm", "ia-64", "mips", "powerpc", "sparc", "x86", "x86-64",]
);
vocab!(
    REGION,
    "region-ov",
    [
        "africa", "eastern-africa", "middle-africa", "northern-africa", "southern-africa", "western-africa",
        "americas", "latin-america-caribbean", "south-america", "caribbean", "central-america", "northern-america",
        "asia", "central-asia", "eastern-asia", "southern-asia", "south-eastern-asia", "western-asia", "europe",
        "eastern-europe", "northern-europe", "southern-europe", "western-europe", "oceania", "australia-new-zealand",
        "melanesia", "micronesia", "polynesia", "antarctica",
    ]
);
vocab!(
    REPORT_TYPE,
    "report-type-ov",
    [
        "threat-report", "attack-pattern", "campaign", "identity", "indicator", "intrusion-set", "malware",
        "observed-data", "threat-actor", "tool", "vulnerability",
    ]
);
vocab!(
    THREAT_ACTOR_TYPE,
    "threat-actor-type-ov",
    [
        "activist", "competitor", "crime-syndicate", "criminal", "hacker", "insider-accidental", "insider-disgruntled",
        "nation-state", "sensationalist", "spy", "terrorist", "unknown",
    ]
);
vocab!(
    THREAT_ACTOR_ROLE,
    "threat-actor-role-ov",
    [
        "agent", "director", "independent", "infrastructure-architect", "infrastructure-operator", "malware-author",
        "sponsor",
    ]
);
vocab!(
    THREAT_ACTOR_SOPHISTICATION,
    "threat-actor-sophistication-ov",
    ["none", "minimal", "intermediate", "advanced", "expert", "innovator", "strategic",]
);
vocab!(
    TOOL_TYPE,
    "tool-type-ov",
    [
        "denial-of-service", "exploitation", "information-gathering", "network-capture", "credential-exploitation",
        "remote-access", "vulnerability-scanning", "unknown",
    ]
);
vocab!(
    HASH_ALGORITHM,
    "hash-algorithm-ov",
    ["MD5", "SHA-1", "SHA-256", "SHA-512", "SHA3-256", "SHA3-512", "SSDEEP", "TLSH",]
);
vocab!(WINDOWS_PEBINARY_TYPE, "windows-pebinary-type-ov", ["exe", "dll", "sys"]);
vocab!(
    ACCOUNT_TYPE,
    "account-type-ov",
    [
        "unix", "windows-local", "windows-domain", "ldap", "tacacs", "radius", "nis", "openid", "facebook", "skype",
        "twitter", "kavi",
    ]
);
vocab!(MARKING_DEFINITION_TYPE, "marking-definition-type", ["statement", "tlp"]);

// Enumerations (MUST).
vocab!(OPINION, "opinion-enum", ["strongly-disagree", "disagree", "neutral", "agree", "strongly-agree"]);
vocab!(
    EXTENSION_TYPE,
    "extension-type-enum",
    ["new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension",]
);
vocab!(ENCRYPTION_ALGORITHM, "encryption-algorithm-enum", ["AES-256-GCM", "ChaCha20-Poly1305", "mime-type-indicated",]);
vocab!(WINDOWS_INTEGRITY_LEVEL, "windows-integrity-level-enum", ["low", "medium", "high", "system"]);
vocab!(
    WINDOWS_SERVICE_START_TYPE,
    "windows-service-start-type-enum",
    ["SERVICE_AUTO_START", "SERVICE_BOOT_START", "SERVICE_DEMAND_START", "SERVICE_DISABLED", "SERVICE_SYSTEM_ALERT",]
);
vocab!(
    WINDOWS_SERVICE_TYPE,
    "windows-service-type-enum",
    ["SERVICE_KERNEL_DRIVER", "SERVICE_FILE_SYSTEM_DRIVER", "SERVICE_WIN32_OWN_PROCESS", "SERVICE_WIN32_SHARE_PROCESS",]
);
vocab!(
    WINDOWS_SERVICE_STATUS,
    "windows-service-status-enum",
    [
        "SERVICE_CONTINUE_PENDING", "SERVICE_PAUSE_PENDING", "SERVICE_PAUSED", "SERVICE_RUNNING",
        "SERVICE_START_PENDING", "SERVICE_STOP_PENDING", "SERVICE_STOPPED",
    ]
);
vocab!(
    WINDOWS_REGISTRY_DATATYPE,
    "windows-registry-datatype-enum",
    [
        "REG_NONE", "REG_SZ", "REG_EXPAND_SZ", "REG_BINARY", "REG_DWORD", "REG_DWORD_BIG_ENDIAN",
        "REG_DWORD_LITTLE_ENDIAN", "REG_LINK", "REG_MULTI_SZ", "REG_RESOURCE_LIST", "REG_FULL_RESOURCE_DESCRIPTION",
        "REG_RESOURCE_REQUIREMENTS_LIST", "REG_QWORD", "REG_INVALID_TYPE",
    ]
);
vocab!(
    NETWORK_SOCKET_ADDRESS_FAMILY,
    "network-socket-address-family-enum",
    ["AF_UNSPEC", "AF_INET", "AF_IPX", "AF_APPLETALK", "AF_NETBIOS", "AF_INET6", "AF_IRDA", "AF_BTH",]
);
vocab!(
    NETWORK_SOCKET_TYPE,
    "network-socket-type-enum",
    ["SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET",]
);

/// Property names the spec reserves (“Reserved Names”): MUST NOT be used.
pub const RESERVED_PROPERTIES_21: &[&str] = &["severity", "action", "username", "phone_numbers"];
/// STIX 2.0 reserved property names (as the 2.0 JSON schemas list them).
pub const RESERVED_PROPERTIES_20: &[&str] = &[
    "confidence", "severity", "action", "usernames", "phone_numbers", "addresses", "first_seen_precision",
    "last_seen_precision", "valid_from_precision", "valid_until_precision",
];
/// Object type names reserved by the spec.
pub const RESERVED_TYPES_21: &[&str] = &["action"];
pub const RESERVED_TYPES_20: &[&str] = &["incident", "infrastructure"];

/// The four TLP marking-definitions the spec fixes (“TLP Marking”): (id, name, tlp value).
pub const TLP_MARKINGS: &[(&str, &str, &str)] = &[
    ("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "TLP:WHITE", "white"),
    ("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "TLP:GREEN", "green"),
    ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "TLP:AMBER", "amber"),
    ("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "TLP:RED", "red"),
];
pub const TLP_CREATED: &str = "2017-01-20T00:00:00.000Z";

/// The TLP 2.0 marking-definitions published with the OASIS TLP 2.0 extension
/// (`extension-definition--60a3c5c5-…`): (id, name, level).
pub const TLP2_MARKINGS: &[(&str, &str, &str)] = &[
    ("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "TLP:CLEAR", "clear"),
    ("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "TLP:GREEN", "green"),
    ("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "TLP:AMBER", "amber"),
    ("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", "TLP:AMBER+STRICT", "amber+strict"),
    ("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "TLP:RED", "red"),
];

/// The deterministic-id namespace (Identifier section; the value used by the OASIS `stix2` library).
pub const SCO_ID_NAMESPACE: &str = "00abedb4-aa42-466c-9c01-fed23315a9b7";

/// Hash algorithms whose value format the spec fixes (hash-algorithm-ov), with the
/// accepted lengths and alphabet (`true` = hex digits only).
pub const HASH_FORMATS: &[(&str, usize, usize, HashAlphabet)] = &[
    ("MD5", 32, 32, HashAlphabet::Hex),
    ("SHA-1", 40, 40, HashAlphabet::Hex),
    ("SHA-256", 64, 64, HashAlphabet::Hex),
    ("SHA-512", 128, 128, HashAlphabet::Hex),
    ("SHA3-256", 64, 64, HashAlphabet::Hex),
    ("SHA3-512", 128, 128, HashAlphabet::Hex),
    ("SSDEEP", 1, 128, HashAlphabet::Ssdeep),
    ("TLSH", 70, 70, HashAlphabet::Alnum),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlphabet {
    Hex,
    Ssdeep,
    Alnum,
}

/// The hash preference for deterministic ids (`stix2` `_choose_one_hash`).
pub const ID_HASH_PREFERENCE: &[&str] = &["MD5", "SHA-1", "SHA-256", "SHA-512"];

// ---------------------------------------------------------------------------------------
// Embedded types (common data types, markings)
// ---------------------------------------------------------------------------------------

/// The external-reference common data type.
pub static EXTERNAL_REFERENCE: ObjSpec = obj(
    "external-reference",
    &[
        p("source_name", Ty::Str),
        p("description", Ty::Str),
        p("url", Ty::Url),
        p("hashes", Ty::Hashes),
        p("external_id", Ty::Str),
    ],
    &["source_name"],
    &[Rule::AtLeastOne(&["description", "url", "external_id"]), Rule::Special(Special::ExternalId)],
);

/// STIX 2.0 external-reference: only source_name is required.
pub static EXTERNAL_REFERENCE_20: ObjSpec = obj(
    "external-reference",
    &[
        p("source_name", Ty::Str),
        p("description", Ty::Str),
        p("url", Ty::Url),
        p("hashes", Ty::Hashes),
        p("external_id", Ty::Str),
    ],
    &["source_name"],
    &[Rule::AtLeastOne(&["description", "url", "external_id"]), Rule::Special(Special::ExternalId)],
);

/// The kill-chain-phase common data type.
pub static KILL_CHAIN_PHASE: ObjSpec = obj(
    "kill-chain-phase",
    &[p("kill_chain_name", Ty::Str), p("phase_name", Ty::Str)],
    &["kill_chain_name", "phase_name"],
    &[],
);

/// granular-marking (“Granular Markings”): exactly one of `lang` / `marking_ref`.
pub static GRANULAR_MARKING: ObjSpec = obj(
    "granular-marking",
    &[l("selectors", Ty::Selector), p("lang", Ty::Lang), p("marking_ref", refs(&["marking-definition"]))],
    &["selectors"],
    &[Rule::ExactlyOne(&["lang", "marking_ref"])],
);

/// STIX 2.0 granular-marking.
pub static GRANULAR_MARKING_20: ObjSpec = obj(
    "granular-marking",
    &[l("selectors", Ty::Selector), p("marking_ref", refs(&["marking-definition"]))],
    &["selectors", "marking_ref"],
    &[],
);

/// The value of an `extension-definition--…` key in `extensions`.
pub static EXTENSION_INSTANCE: ObjSpec =
    obj("extension", &[p("extension_type", Ty::Enum(&EXTENSION_TYPE))], &["extension_type"], &[]);

/// The value of a custom (`x-…-ext`, pre-2.1 style) extension: free-form properties.
pub static EXTENSION_INSTANCE_CUSTOM: ObjSpec = obj("extension", &[], &[], &[]);

// ---------------------------------------------------------------------------------------
// Common properties (SDO/SRO “Common Properties”, SCO “Common Properties”)
// ---------------------------------------------------------------------------------------

/// Common properties of SDOs, SROs, language-content and extension-definition in 2.1.
/// `type`, `id` and `spec_version` are handled by the interpreter.
pub const COMMON_21: &[Prop] = &[
    p("created_by_ref", refs(&["identity"])),
    p("created", Ty::Timestamp),
    p("modified", Ty::Timestamp),
    p("revoked", Ty::Bool),
    l("labels", Ty::Str),
    p("confidence", Ty::Int(0, 100, "confidence-range")),
    p("lang", Ty::Lang),
    l("external_references", Ty::Struct(&EXTERNAL_REFERENCE)),
    l("object_marking_refs", refs(&["marking-definition"])),
    l("granular_markings", Ty::Struct(&GRANULAR_MARKING)),
    p("extensions", Ty::Extensions),
];

/// Rules every versioned object (SDO, SRO, language-content, extension-definition) obeys:
/// `modified` MUST be later than or equal to `created` (Common Properties).
pub const COMMON_RULES: &[Rule] =
    &[Rule::Order { later: "modified", earlier: "created", strict: false, rule: "modified-before-created" }];

/// Common properties of marking-definition in 2.1 (“Marking Definition”).
pub const COMMON_MARKING_21: &[Prop] = &[
    p("created_by_ref", refs(&["identity"])),
    p("created", Ty::Timestamp),
    l("external_references", Ty::Struct(&EXTERNAL_REFERENCE)),
    l("object_marking_refs", refs(&["marking-definition"])),
    l("granular_markings", Ty::Struct(&GRANULAR_MARKING)),
    p("extensions", Ty::Extensions),
    p("name", Ty::Str),
    p("definition_type", Ty::Str),
    p("definition", Ty::Object),
];

/// Common properties of SCOs in 2.1.
pub const COMMON_SCO_21: &[Prop] = &[
    l("object_marking_refs", refs(&["marking-definition"])),
    l("granular_markings", Ty::Struct(&GRANULAR_MARKING)),
    p("defanged", Ty::Bool),
    p("extensions", Ty::Extensions),
];

/// Common properties of SDOs and SROs in 2.0 (2.0 Part 1 “Common Properties”).
pub const COMMON_20: &[Prop] = &[
    p("created_by_ref", refs(&["identity"])),
    p("created", Ty::Timestamp),
    p("modified", Ty::Timestamp),
    p("revoked", Ty::Bool),
    l("labels", Ty::Str),
    l("external_references", Ty::Struct(&EXTERNAL_REFERENCE_20)),
    l("object_marking_refs", refs(&["marking-definition"])),
    l("granular_markings", Ty::Struct(&GRANULAR_MARKING_20)),
];

/// Common properties of marking-definition in 2.0.
pub const COMMON_MARKING_20: &[Prop] = &[
    p("created_by_ref", refs(&["identity"])),
    p("created", Ty::Timestamp),
    l("external_references", Ty::Struct(&EXTERNAL_REFERENCE_20)),
    l("object_marking_refs", refs(&["marking-definition"])),
    l("granular_markings", Ty::Struct(&GRANULAR_MARKING_20)),
    p("definition_type", Ty::Str),
    p("definition", Ty::Object),
];

// ---------------------------------------------------------------------------------------
// STIX 2.1 SDOs, SROs and meta objects
// ---------------------------------------------------------------------------------------

const KCP: Ty = Ty::Struct(&KILL_CHAIN_PHASE);
const SOFTWARE: Ty = refs(&["software"]);

macro_rules! seen_order {
    () => {
        Rule::Order { later: "last_seen", earlier: "first_seen", strict: false, rule: "last-seen-before-first-seen" }
    };
}

pub static ATTACK_PATTERN: ObjSpec = obj(
    "attack-pattern",
    &[p("name", Ty::Str), p("description", Ty::Str), l("aliases", Ty::Str), l("kill_chain_phases", KCP)],
    &["name"],
    &[],
);

pub static CAMPAIGN: ObjSpec = obj(
    "campaign",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        l("aliases", Ty::Str),
        p("first_seen", Ty::Timestamp),
        p("last_seen", Ty::Timestamp),
        p("objective", Ty::Str),
    ],
    &["name"],
    &[seen_order!()],
);

pub static COURSE_OF_ACTION: ObjSpec =
    obj("course-of-action", &[p("name", Ty::Str), p("description", Ty::Str)], &["name"], &[]);

pub static GROUPING: ObjSpec = obj(
    "grouping",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        p("context", Ty::Vocab(&GROUPING_CONTEXT)),
        l("object_refs", Ty::Ref(Targets::Any)),
    ],
    &["context", "object_refs"],
    &[],
);

pub static IDENTITY: ObjSpec = obj(
    "identity",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        l("roles", Ty::Str),
        p("identity_class", Ty::Vocab(&IDENTITY_CLASS)),
        l("sectors", Ty::Vocab(&INDUSTRY_SECTOR)),
        p("contact_information", Ty::Str),
    ],
    &["name"],
    &[],
);

pub static INCIDENT: ObjSpec =
    obj("incident", &[p("name", Ty::Str), p("description", Ty::Str), l("kill_chain_phases", KCP)], &["name"], &[]);

pub static INDICATOR: ObjSpec = obj(
    "indicator",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        l("indicator_types", Ty::Vocab(&INDICATOR_TYPE)),
        p("pattern", Ty::Str),
        p("pattern_type", Ty::Vocab(&PATTERN_TYPE)),
        p("pattern_version", Ty::Str),
        p("valid_from", Ty::Timestamp),
        p("valid_until", Ty::Timestamp),
        l("kill_chain_phases", KCP),
    ],
    &["pattern", "pattern_type", "valid_from"],
    &[
        Rule::Order {
            later: "valid_until",
            earlier: "valid_from",
            strict: true,
            rule: "valid-until-not-after-valid-from",
        },
        Rule::Special(Special::Pattern),
    ],
);

pub static INFRASTRUCTURE: ObjSpec = obj(
    "infrastructure",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        l("infrastructure_types", Ty::Vocab(&INFRASTRUCTURE_TYPE)),
        l("aliases", Ty::Str),
        l("kill_chain_phases", KCP),
        p("first_seen", Ty::Timestamp),
        p("last_seen", Ty::Timestamp),
    ],
    &["name"],
    &[seen_order!()],
);

pub static INTRUSION_SET: ObjSpec = obj(
    "intrusion-set",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        l("aliases", Ty::Str),
        p("first_seen", Ty::Timestamp),
        p("last_seen", Ty::Timestamp),
        l("goals", Ty::Str),
        p("resource_level", Ty::Vocab(&ATTACK_RESOURCE_LEVEL)),
        p("primary_motivation", Ty::Vocab(&ATTACK_MOTIVATION)),
        l("secondary_motivations", Ty::Vocab(&ATTACK_MOTIVATION)),
    ],
    &["name"],
    &[seen_order!()],
);

pub static LOCATION: ObjSpec = obj(
    "location",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        p("latitude", Ty::Float(-90.0, 90.0, "range")),
        p("longitude", Ty::Float(-180.0, 180.0, "range")),
        p("precision", ANY_FLOAT),
        p("region", Ty::Vocab(&REGION)),
        p("country", Ty::Str),
        p("administrative_area", Ty::Str),
        p("city", Ty::Str),
        p("street_address", Ty::Str),
        p("postal_code", Ty::Str),
    ],
    &[],
    &[
        Rule::AnyGroup(&[&["region"], &["country"], &["latitude", "longitude"]]),
        Rule::Requires { prop: "latitude", needs: &["longitude"] },
        Rule::Requires { prop: "longitude", needs: &["latitude"] },
        Rule::Requires { prop: "precision", needs: &["latitude", "longitude"] },
    ],
);

pub static MALWARE: ObjSpec = obj(
    "malware",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        l("malware_types", Ty::Vocab(&MALWARE_TYPE)),
        p("is_family", Ty::Bool),
        l("aliases", Ty::Str),
        l("kill_chain_phases", KCP),
        p("first_seen", Ty::Timestamp),
        p("last_seen", Ty::Timestamp),
        l("operating_system_refs", SOFTWARE),
        l("architecture_execution_envs", Ty::Vocab(&PROCESSOR_ARCHITECTURE)),
        l("implementation_languages", Ty::Vocab(&IMPLEMENTATION_LANGUAGE)),
        l("capabilities", Ty::Vocab(&MALWARE_CAPABILITIES)),
        l("sample_refs", refs(&["artifact", "file"])),
    ],
    &["is_family"],
    &[Rule::IfFlag { flag: "is_family", value: true, required: &["name"], forbidden: &[] }, seen_order!()],
);

pub static MALWARE_ANALYSIS: ObjSpec = obj(
    "malware-analysis",
    &[
        p("product", Ty::Str),
        p("version", Ty::Str),
        p("host_vm_ref", SOFTWARE),
        p("operating_system_ref", SOFTWARE),
        l("installed_software_refs", SOFTWARE),
        p("configuration_version", Ty::Str),
        l("modules", Ty::Str),
        p("analysis_engine_version", Ty::Str),
        p("analysis_definition_version", Ty::Str),
        p("submitted", Ty::Timestamp),
        p("analysis_started", Ty::Timestamp),
        p("analysis_ended", Ty::Timestamp),
        p("result_name", Ty::Str),
        p("result", Ty::Vocab(&MALWARE_RESULT)),
        l("analysis_sco_refs", Ty::Ref(Targets::Sco)),
        p("sample_ref", refs(&["file", "network-traffic", "artifact"])),
    ],
    &["product"],
    &[Rule::AtLeastOne(&["result", "analysis_sco_refs"])],
);

pub static NOTE: ObjSpec = obj(
    "note",
    &[p("abstract", Ty::Str), p("content", Ty::Str), l("authors", Ty::Str), l("object_refs", Ty::Ref(Targets::Any))],
    &["content", "object_refs"],
    &[],
);

pub static OBSERVED_DATA: ObjSpec = obj(
    "observed-data",
    &[
        p("first_observed", Ty::Timestamp),
        p("last_observed", Ty::Timestamp),
        p("number_observed", int(1, 999_999_999)),
        p("objects", Ty::Object),
        l("object_refs", Ty::Ref(Targets::ScoOrSro)),
    ],
    &["first_observed", "last_observed", "number_observed"],
    &[
        Rule::ExactlyOne(&["object_refs", "objects"]),
        Rule::Order {
            later: "last_observed",
            earlier: "first_observed",
            strict: false,
            rule: "last-observed-before-first-observed",
        },
        Rule::Special(Special::ObservedObjects),
    ],
);

pub static OPINION_SPEC: ObjSpec = obj(
    "opinion",
    &[
        p("explanation", Ty::Str),
        l("authors", Ty::Str),
        p("opinion", Ty::Enum(&OPINION)),
        l("object_refs", Ty::Ref(Targets::Any)),
    ],
    &["opinion", "object_refs"],
    &[],
);

pub static REPORT: ObjSpec = obj(
    "report",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        l("report_types", Ty::Vocab(&REPORT_TYPE)),
        p("published", Ty::Timestamp),
        l("object_refs", Ty::Ref(Targets::Any)),
    ],
    &["name", "published", "object_refs"],
    &[],
);

pub static THREAT_ACTOR: ObjSpec = obj(
    "threat-actor",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        l("threat_actor_types", Ty::Vocab(&THREAT_ACTOR_TYPE)),
        l("aliases", Ty::Str),
        p("first_seen", Ty::Timestamp),
        p("last_seen", Ty::Timestamp),
        l("roles", Ty::Vocab(&THREAT_ACTOR_ROLE)),
        l("goals", Ty::Str),
        p("sophistication", Ty::Vocab(&THREAT_ACTOR_SOPHISTICATION)),
        p("resource_level", Ty::Vocab(&ATTACK_RESOURCE_LEVEL)),
        p("primary_motivation", Ty::Vocab(&ATTACK_MOTIVATION)),
        l("secondary_motivations", Ty::Vocab(&ATTACK_MOTIVATION)),
        l("personal_motivations", Ty::Vocab(&ATTACK_MOTIVATION)),
    ],
    &["name"],
    &[seen_order!()],
);

pub static TOOL: ObjSpec = obj(
    "tool",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        l("tool_types", Ty::Vocab(&TOOL_TYPE)),
        l("aliases", Ty::Str),
        l("kill_chain_phases", KCP),
        p("tool_version", Ty::Str),
    ],
    &["name"],
    &[],
);

pub static VULNERABILITY: ObjSpec =
    obj("vulnerability", &[p("name", Ty::Str), p("description", Ty::Str)], &["name"], &[]);

pub static RELATIONSHIP: ObjSpec = obj(
    "relationship",
    &[
        p("relationship_type", Ty::RelationshipType),
        p("description", Ty::Str),
        p("source_ref", Ty::Ref(Targets::SdoOrSco)),
        p("target_ref", Ty::Ref(Targets::SdoOrSco)),
        p("start_time", Ty::Timestamp),
        p("stop_time", Ty::Timestamp),
    ],
    &["relationship_type", "source_ref", "target_ref"],
    &[Rule::Order { later: "stop_time", earlier: "start_time", strict: true, rule: "stop-time-not-after-start-time" }],
);

pub static SIGHTING: ObjSpec = obj(
    "sighting",
    &[
        p("description", Ty::Str),
        p("first_seen", Ty::Timestamp),
        p("last_seen", Ty::Timestamp),
        p("count", int(0, 999_999_999)),
        p("sighting_of_ref", Ty::Ref(Targets::Sdo)),
        l("observed_data_refs", refs(&["observed-data"])),
        l("where_sighted_refs", refs(&["identity", "location"])),
        p("summary", Ty::Bool),
    ],
    &["sighting_of_ref"],
    &[seen_order!()],
);

pub static MARKING_DEFINITION: ObjSpec =
    obj("marking-definition", &[], &[], &[Rule::Special(Special::MarkingDefinition)]);

pub static LANGUAGE_CONTENT: ObjSpec = obj(
    "language-content",
    &[p("object_ref", Ty::Ref(Targets::Translatable)), p("object_modified", Ty::Timestamp), p("contents", Ty::Object)],
    &["object_ref", "contents"],
    &[Rule::Special(Special::LanguageContents)],
);

pub static EXTENSION_DEFINITION: ObjSpec = obj(
    "extension-definition",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        p("schema", Ty::Str),
        p("version", Ty::Str),
        l("extension_types", Ty::Enum(&EXTENSION_TYPE)),
        l("extension_properties", Ty::Str),
    ],
    &["created_by_ref", "name", "schema", "version", "extension_types"],
    &[Rule::Special(Special::ExtensionProperties)],
);

// ---------------------------------------------------------------------------------------
// STIX 2.1 SCOs and their predefined extensions
// ---------------------------------------------------------------------------------------

const fn sco(
    name: &'static str,
    props: &'static [Prop],
    required: &'static [&'static str],
    rules: &'static [Rule],
    id_contributing: &'static [&'static str],
    extensions: &'static [&'static ObjSpec],
) -> ObjSpec {
    ObjSpec { name, props, required, rules, id_contributing, extensions }
}

const VALUE: &[&str] = &["value"];

pub static ARTIFACT: ObjSpec = sco(
    "artifact",
    &[
        p("mime_type", Ty::MediaType),
        p("payload_bin", Ty::Binary),
        p("url", Ty::Url),
        p("hashes", Ty::Hashes),
        p("encryption_algorithm", Ty::Enum(&ENCRYPTION_ALGORITHM)),
        p("decryption_key", Ty::Str),
    ],
    &[],
    &[
        Rule::ExactlyOne(&["payload_bin", "url"]),
        Rule::Requires { prop: "url", needs: &["hashes"] },
        Rule::Requires { prop: "decryption_key", needs: &["encryption_algorithm"] },
    ],
    &["hashes", "payload_bin"],
    &[],
);

pub static AUTONOMOUS_SYSTEM: ObjSpec = sco(
    "autonomous-system",
    &[p("number", ANY_INT), p("name", Ty::Str), p("rir", Ty::Str)],
    &["number"],
    &[],
    &["number"],
    &[],
);

pub static DIRECTORY: ObjSpec = sco(
    "directory",
    &[
        p("path", Ty::Str),
        p("path_enc", Ty::Charset),
        p("ctime", Ty::Timestamp),
        p("mtime", Ty::Timestamp),
        p("atime", Ty::Timestamp),
        l("contains_refs", refs(&["file", "directory"])),
    ],
    &["path"],
    &[],
    &["path"],
    &[],
);

pub static DOMAIN_NAME: ObjSpec = sco(
    "domain-name",
    &[p("value", Ty::DomainName), l("resolves_to_refs", refs(&["ipv4-addr", "ipv6-addr", "domain-name"]))],
    VALUE,
    &[],
    VALUE,
    &[],
);

pub static EMAIL_ADDR: ObjSpec = sco(
    "email-addr",
    &[p("value", Ty::EmailAddr), p("display_name", Ty::Str), p("belongs_to_ref", refs(&["user-account"]))],
    VALUE,
    &[],
    VALUE,
    &[],
);

pub static EMAIL_MIME_PART: ObjSpec = obj(
    "email-mime-part-type",
    &[
        p("body", Ty::Str),
        p("body_raw_ref", refs(&["artifact", "file"])),
        p("content_type", Ty::Str),
        p("content_disposition", Ty::Str),
    ],
    &[],
    &[Rule::ExactlyOne(&["body", "body_raw_ref"])],
);

const EMAIL_ADDR_REF: Ty = refs(&["email-addr"]);

pub static EMAIL_MESSAGE: ObjSpec = sco(
    "email-message",
    &[
        p("is_multipart", Ty::Bool),
        p("date", Ty::Timestamp),
        p("content_type", Ty::Str),
        p("from_ref", EMAIL_ADDR_REF),
        p("sender_ref", EMAIL_ADDR_REF),
        l("to_refs", EMAIL_ADDR_REF),
        l("cc_refs", EMAIL_ADDR_REF),
        l("bcc_refs", EMAIL_ADDR_REF),
        p("message_id", Ty::Str),
        p("subject", Ty::Str),
        l("received_lines", Ty::Str),
        p("additional_header_fields", Ty::Dict(DictVals::StrOrStrList)),
        p("body", Ty::Str),
        l("body_multipart", Ty::Struct(&EMAIL_MIME_PART)),
        p("raw_email_ref", refs(&["artifact"])),
    ],
    &["is_multipart"],
    &[
        Rule::IfFlag { flag: "is_multipart", value: true, required: &[], forbidden: &["body"] },
        Rule::IfFlag { flag: "is_multipart", value: false, required: &[], forbidden: &["body_multipart"] },
    ],
    &["from_ref", "subject", "body"],
    &[],
);

pub static ALTERNATE_DATA_STREAM: ObjSpec = obj(
    "alternate-data-stream-type",
    &[p("name", Ty::Str), p("hashes", Ty::Hashes), p("size", NON_NEG)],
    &["name"],
    &[],
);

pub static NTFS_EXT: ObjSpec = obj(
    "ntfs-ext",
    &[p("sid", Ty::Str), l("alternate_data_streams", Ty::Struct(&ALTERNATE_DATA_STREAM))],
    &[],
    &[Rule::AtLeastOne(&["sid", "alternate_data_streams"])],
);

pub static RASTER_IMAGE_EXT: ObjSpec = obj(
    "raster-image-ext",
    &[
        p("image_height", ANY_INT),
        p("image_width", ANY_INT),
        p("bits_per_pixel", ANY_INT),
        p("exif_tags", Ty::Dict(DictVals::StrOrInt)),
    ],
    &[],
    &[Rule::AtLeastOne(&["image_height", "image_width", "bits_per_pixel", "exif_tags"])],
);

pub static PDF_EXT: ObjSpec = obj(
    "pdf-ext",
    &[
        p("version", Ty::Str),
        p("is_optimized", Ty::Bool),
        p("document_info_dict", Ty::Dict(DictVals::Str)),
        p("pdfid0", Ty::Str),
        p("pdfid1", Ty::Str),
    ],
    &[],
    &[Rule::AtLeastOne(&["version", "is_optimized", "document_info_dict", "pdfid0", "pdfid1"])],
);

pub static ARCHIVE_EXT: ObjSpec = obj(
    "archive-ext",
    &[l("contains_refs", refs(&["file", "directory"])), p("comment", Ty::Str)],
    &["contains_refs"],
    &[],
);

const PE_OPTIONAL_HEADER_PROPS: &[Prop] = &[
    p("magic_hex", Ty::Hex),
    p("major_linker_version", ANY_INT),
    p("minor_linker_version", ANY_INT),
    p("size_of_code", NON_NEG),
    p("size_of_initialized_data", NON_NEG),
    p("size_of_uninitialized_data", NON_NEG),
    p("address_of_entry_point", ANY_INT),
    p("base_of_code", ANY_INT),
    p("base_of_data", ANY_INT),
    p("image_base", ANY_INT),
    p("section_alignment", ANY_INT),
    p("file_alignment", ANY_INT),
    p("major_os_version", ANY_INT),
    p("minor_os_version", ANY_INT),
    p("major_image_version", ANY_INT),
    p("minor_image_version", ANY_INT),
    p("major_subsystem_version", ANY_INT),
    p("minor_subsystem_version", ANY_INT),
    p("win32_version_value_hex", Ty::Hex),
    p("size_of_image", NON_NEG),
    p("size_of_headers", NON_NEG),
    p("checksum_hex", Ty::Hex),
    p("subsystem_hex", Ty::Hex),
    p("dll_characteristics_hex", Ty::Hex),
    p("size_of_stack_reserve", NON_NEG),
    p("size_of_stack_commit", NON_NEG),
    p("size_of_heap_reserve", NON_NEG),
    p("size_of_heap_commit", NON_NEG),
    p("loader_flags_hex", Ty::Hex),
    p("number_of_rva_and_sizes", ANY_INT),
    p("hashes", Ty::Hashes),
];

const PE_OPTIONAL_HEADER_NAMES: &[&str] = &[
    "magic_hex", "major_linker_version", "minor_linker_version", "size_of_code", "size_of_initialized_data",
    "size_of_uninitialized_data", "address_of_entry_point", "base_of_code", "base_of_data", "image_base",
    "section_alignment", "file_alignment", "major_os_version", "minor_os_version", "major_image_version",
    "minor_image_version", "major_subsystem_version", "minor_subsystem_version", "win32_version_value_hex",
    "size_of_image", "size_of_headers", "checksum_hex", "subsystem_hex", "dll_characteristics_hex",
    "size_of_stack_reserve", "size_of_stack_commit", "size_of_heap_reserve", "size_of_heap_commit", "loader_flags_hex",
    "number_of_rva_and_sizes", "hashes",
];

pub static WINDOWS_PE_OPTIONAL_HEADER: ObjSpec = obj(
    "windows-pe-optional-header-type",
    PE_OPTIONAL_HEADER_PROPS,
    &[],
    &[Rule::AtLeastOne(PE_OPTIONAL_HEADER_NAMES)],
);

pub static WINDOWS_PE_SECTION: ObjSpec = obj(
    "windows-pe-section-type",
    &[p("name", Ty::Str), p("size", NON_NEG), p("entropy", ANY_FLOAT), p("hashes", Ty::Hashes)],
    &["name"],
    &[],
);

pub static WINDOWS_PEBINARY_EXT: ObjSpec = obj(
    "windows-pebinary-ext",
    &[
        p("pe_type", Ty::Vocab(&WINDOWS_PEBINARY_TYPE)),
        p("imphash", Ty::Str),
        p("machine_hex", Ty::Hex),
        p("number_of_sections", NON_NEG),
        p("time_date_stamp", Ty::TimestampSecs),
        p("pointer_to_symbol_table_hex", Ty::Hex),
        p("number_of_symbols", NON_NEG),
        p("size_of_optional_header", NON_NEG),
        p("characteristics_hex", Ty::Hex),
        p("file_header_hashes", Ty::Hashes),
        p("optional_header", Ty::Struct(&WINDOWS_PE_OPTIONAL_HEADER)),
        l("sections", Ty::Struct(&WINDOWS_PE_SECTION)),
    ],
    &["pe_type"],
    &[Rule::AtLeastOne(&[
        "imphash", "machine_hex", "number_of_sections", "time_date_stamp", "pointer_to_symbol_table_hex",
        "number_of_symbols", "size_of_optional_header", "characteristics_hex", "file_header_hashes", "optional_header",
        "sections",
    ])],
);

pub static FILE: ObjSpec = sco(
    "file",
    &[
        p("hashes", Ty::Hashes),
        p("size", NON_NEG),
        p("name", Ty::Str),
        p("name_enc", Ty::Charset),
        p("magic_number_hex", Ty::Hex),
        p("mime_type", Ty::Str),
        p("ctime", Ty::Timestamp),
        p("mtime", Ty::Timestamp),
        p("atime", Ty::Timestamp),
        p("parent_directory_ref", refs(&["directory"])),
        l("contains_refs", Ty::Ref(Targets::Sco)),
        p("content_ref", refs(&["artifact"])),
    ],
    &[],
    &[Rule::AtLeastOne(&["hashes", "name"])],
    &["hashes", "name", "parent_directory_ref", "extensions"],
    &[&NTFS_EXT, &RASTER_IMAGE_EXT, &PDF_EXT, &ARCHIVE_EXT, &WINDOWS_PEBINARY_EXT],
);

pub static IPV4_ADDR: ObjSpec = sco(
    "ipv4-addr",
    &[
        p("value", Ty::Ipv4),
        l("resolves_to_refs", refs(&["mac-addr"])),
        l("belongs_to_refs", refs(&["autonomous-system"])),
    ],
    VALUE,
    &[],
    VALUE,
    &[],
);

pub static IPV6_ADDR: ObjSpec = sco(
    "ipv6-addr",
    &[
        p("value", Ty::Ipv6),
        l("resolves_to_refs", refs(&["mac-addr"])),
        l("belongs_to_refs", refs(&["autonomous-system"])),
    ],
    VALUE,
    &[],
    VALUE,
    &[],
);

pub static MAC_ADDR: ObjSpec = sco("mac-addr", &[p("value", Ty::MacAddr)], VALUE, &[], VALUE, &[]);

pub static MUTEX: ObjSpec = sco("mutex", &[p("name", Ty::Str)], &["name"], &[], &["name"], &[]);

pub static HTTP_REQUEST_EXT: ObjSpec = obj(
    "http-request-ext",
    &[
        p("request_method", Ty::Str),
        p("request_value", Ty::Str),
        p("request_version", Ty::Str),
        p("request_header", Ty::Dict(DictVals::Any)),
        p("message_body_length", ANY_INT),
        p("message_body_data_ref", refs(&["artifact"])),
    ],
    &["request_method", "request_value"],
    &[],
);

pub static ICMP_EXT: ObjSpec = obj(
    "icmp-ext",
    &[p("icmp_type_hex", Ty::Hex), p("icmp_code_hex", Ty::Hex)],
    &["icmp_type_hex", "icmp_code_hex"],
    &[],
);

pub static SOCKET_EXT: ObjSpec = obj(
    "socket-ext",
    &[
        p("address_family", Ty::Enum(&NETWORK_SOCKET_ADDRESS_FAMILY)),
        p("is_blocking", Ty::Bool),
        p("is_listening", Ty::Bool),
        p("options", Ty::Dict(DictVals::Int)),
        p("socket_type", Ty::Enum(&NETWORK_SOCKET_TYPE)),
        p("socket_descriptor", NON_NEG),
        p("socket_handle", ANY_INT),
    ],
    &["address_family"],
    &[],
);

pub static TCP_EXT: ObjSpec = obj(
    "tcp-ext",
    &[p("src_flags_hex", Ty::Hex), p("dst_flags_hex", Ty::Hex)],
    &[],
    &[Rule::AtLeastOne(&["src_flags_hex", "dst_flags_hex"])],
);

const NETWORK_ENDPOINT: Ty = refs(&["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"]);

pub static NETWORK_TRAFFIC: ObjSpec = sco(
    "network-traffic",
    &[
        p("start", Ty::Timestamp),
        p("end", Ty::Timestamp),
        p("is_active", Ty::Bool),
        p("src_ref", NETWORK_ENDPOINT),
        p("dst_ref", NETWORK_ENDPOINT),
        p("src_port", int(0, 65535)),
        p("dst_port", int(0, 65535)),
        l("protocols", Ty::Str),
        p("src_byte_count", ANY_INT),
        p("dst_byte_count", ANY_INT),
        p("src_packets", ANY_INT),
        p("dst_packets", ANY_INT),
        p("ipfix", Ty::Dict(DictVals::StrOrInt)),
        p("src_payload_ref", refs(&["artifact"])),
        p("dst_payload_ref", refs(&["artifact"])),
        l("encapsulates_refs", refs(&["network-traffic"])),
        p("encapsulated_by_ref", refs(&["network-traffic"])),
    ],
    &["protocols"],
    &[
        Rule::AtLeastOne(&["src_ref", "dst_ref"]),
        Rule::IfFlag { flag: "is_active", value: true, required: &[], forbidden: &["end"] },
        Rule::Order { later: "end", earlier: "start", strict: false, rule: "end-before-start" },
    ],
    &["start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"],
    &[&HTTP_REQUEST_EXT, &ICMP_EXT, &SOCKET_EXT, &TCP_EXT],
);

pub static WINDOWS_PROCESS_EXT: ObjSpec = obj(
    "windows-process-ext",
    &[
        p("aslr_enabled", Ty::Bool),
        p("dep_enabled", Ty::Bool),
        p("priority", Ty::Str),
        p("owner_sid", Ty::Str),
        p("window_title", Ty::Str),
        p("startup_info", Ty::Dict(DictVals::Any)),
        p("integrity_level", Ty::Enum(&WINDOWS_INTEGRITY_LEVEL)),
    ],
    &[],
    &[Rule::AtLeastOne(&[
        "aslr_enabled", "dep_enabled", "priority", "owner_sid", "window_title", "startup_info", "integrity_level",
    ])],
);

pub static WINDOWS_SERVICE_EXT: ObjSpec = obj(
    "windows-service-ext",
    &[
        p("service_name", Ty::Str),
        l("descriptions", Ty::Str),
        p("display_name", Ty::Str),
        p("group_name", Ty::Str),
        p("start_type", Ty::Enum(&WINDOWS_SERVICE_START_TYPE)),
        l("service_dll_refs", refs(&["file"])),
        p("service_type", Ty::Enum(&WINDOWS_SERVICE_TYPE)),
        p("service_status", Ty::Enum(&WINDOWS_SERVICE_STATUS)),
    ],
    &[],
    &[Rule::AtLeastOne(&[
        "service_name", "descriptions", "display_name", "group_name", "start_type", "service_dll_refs", "service_type",
        "service_status",
    ])],
);

pub static PROCESS: ObjSpec = sco(
    "process",
    &[
        p("is_hidden", Ty::Bool),
        p("pid", ANY_INT),
        p("created_time", Ty::Timestamp),
        p("cwd", Ty::Str),
        p("command_line", Ty::Str),
        p("environment_variables", Ty::Dict(DictVals::Any)),
        l("opened_connection_refs", refs(&["network-traffic"])),
        p("creator_user_ref", refs(&["user-account"])),
        p("image_ref", refs(&["file"])),
        p("parent_ref", refs(&["process"])),
        l("child_refs", refs(&["process"])),
    ],
    &[],
    &[Rule::AtLeastOne(&[
        "extensions", "is_hidden", "pid", "created_time", "cwd", "command_line", "environment_variables",
        "opened_connection_refs", "creator_user_ref", "image_ref", "parent_ref", "child_refs",
    ])],
    &[],
    &[&WINDOWS_PROCESS_EXT, &WINDOWS_SERVICE_EXT],
);

pub static SOFTWARE_SPEC: ObjSpec = sco(
    "software",
    &[
        p("name", Ty::Str),
        p("cpe", Ty::Cpe),
        p("swid", Ty::Str),
        l("languages", Ty::SoftwareLang),
        p("vendor", Ty::Str),
        p("version", Ty::Str),
    ],
    &["name"],
    &[],
    &["name", "cpe", "swid", "vendor", "version"],
    &[],
);

pub static URL: ObjSpec = sco("url", &[p("value", Ty::Url)], VALUE, &[], VALUE, &[]);

pub static UNIX_ACCOUNT_EXT: ObjSpec = obj(
    "unix-account-ext",
    &[p("gid", ANY_INT), l("groups", Ty::Str), p("home_dir", Ty::Str), p("shell", Ty::Str)],
    &[],
    &[Rule::AtLeastOne(&["gid", "groups", "home_dir", "shell"])],
);

pub static USER_ACCOUNT: ObjSpec = sco(
    "user-account",
    &[
        p("user_id", Ty::Str),
        p("credential", Ty::Str),
        p("account_login", Ty::Str),
        p("account_type", Ty::Vocab(&ACCOUNT_TYPE)),
        p("display_name", Ty::Str),
        p("is_service_account", Ty::Bool),
        p("is_privileged", Ty::Bool),
        p("can_escalate_privs", Ty::Bool),
        p("is_disabled", Ty::Bool),
        p("account_created", Ty::Timestamp),
        p("account_expires", Ty::Timestamp),
        p("credential_last_changed", Ty::Timestamp),
        p("account_first_login", Ty::Timestamp),
        p("account_last_login", Ty::Timestamp),
    ],
    &[],
    &[Rule::AtLeastOne(&[
        "extensions", "user_id", "credential", "account_login", "account_type", "display_name", "is_service_account",
        "is_privileged", "can_escalate_privs", "is_disabled", "account_created", "account_expires",
        "credential_last_changed", "account_first_login", "account_last_login",
    ])],
    &["account_type", "user_id", "account_login"],
    &[&UNIX_ACCOUNT_EXT],
);

pub static WINDOWS_REGISTRY_VALUE: ObjSpec = obj(
    "windows-registry-value-type",
    &[p("name", Ty::Str), p("data", Ty::Str), p("data_type", Ty::Enum(&WINDOWS_REGISTRY_DATATYPE))],
    &[],
    &[Rule::AtLeastOne(&["name", "data", "data_type"])],
);

pub static WINDOWS_REGISTRY_KEY: ObjSpec = sco(
    "windows-registry-key",
    &[
        p("key", Ty::RegistryKey),
        l("values", Ty::Struct(&WINDOWS_REGISTRY_VALUE)),
        p("modified_time", Ty::Timestamp),
        p("creator_user_ref", refs(&["user-account"])),
        p("number_of_subkeys", ANY_INT),
    ],
    &[],
    &[Rule::AtLeastOne(&["key", "values", "modified_time", "creator_user_ref", "number_of_subkeys"])],
    &["key", "values"],
    &[],
);

const X509_V3_NAMES: &[&str] = &[
    "basic_constraints", "name_constraints", "policy_constraints", "key_usage", "extended_key_usage",
    "subject_key_identifier", "authority_key_identifier", "subject_alternative_name", "issuer_alternative_name",
    "subject_directory_attributes", "crl_distribution_points", "inhibit_any_policy",
    "private_key_usage_period_not_before", "private_key_usage_period_not_after", "certificate_policies",
    "policy_mappings",
];

pub static X509_V3_EXTENSIONS: ObjSpec = obj(
    "x509-v3-extensions-type",
    &[
        p("basic_constraints", Ty::Str),
        p("name_constraints", Ty::Str),
        p("policy_constraints", Ty::Str),
        p("key_usage", Ty::Str),
        p("extended_key_usage", Ty::Str),
        p("subject_key_identifier", Ty::Str),
        p("authority_key_identifier", Ty::Str),
        p("subject_alternative_name", Ty::Str),
        p("issuer_alternative_name", Ty::Str),
        p("subject_directory_attributes", Ty::Str),
        p("crl_distribution_points", Ty::Str),
        p("inhibit_any_policy", Ty::Str),
        p("private_key_usage_period_not_before", Ty::Timestamp),
        p("private_key_usage_period_not_after", Ty::Timestamp),
        p("certificate_policies", Ty::Str),
        p("policy_mappings", Ty::Str),
    ],
    &[],
    &[Rule::AtLeastOne(X509_V3_NAMES)],
);

pub static X509_CERTIFICATE: ObjSpec = sco(
    "x509-certificate",
    &[
        p("is_self_signed", Ty::Bool),
        p("hashes", Ty::Hashes),
        p("version", Ty::Str),
        p("serial_number", Ty::Str),
        p("signature_algorithm", Ty::Str),
        p("issuer", Ty::Str),
        p("validity_not_before", Ty::Timestamp),
        p("validity_not_after", Ty::Timestamp),
        p("subject", Ty::Str),
        p("subject_public_key_algorithm", Ty::Str),
        p("subject_public_key_modulus", Ty::Str),
        p("subject_public_key_exponent", ANY_INT),
        p("x509_v3_extensions", Ty::Struct(&X509_V3_EXTENSIONS)),
    ],
    &[],
    &[Rule::AtLeastOne(&[
        "is_self_signed", "hashes", "version", "serial_number", "signature_algorithm", "issuer", "validity_not_before",
        "validity_not_after", "subject", "subject_public_key_algorithm", "subject_public_key_modulus",
        "subject_public_key_exponent", "x509_v3_extensions",
    ])],
    &["hashes", "serial_number"],
    &[],
);

/// All STIX 2.1 object types the spec defines (bundle excluded).
pub static TYPES_21: &[&ObjSpec] = &[
    &ATTACK_PATTERN, &CAMPAIGN, &COURSE_OF_ACTION, &GROUPING, &IDENTITY, &INCIDENT, &INDICATOR, &INFRASTRUCTURE,
    &INTRUSION_SET, &LOCATION, &MALWARE, &MALWARE_ANALYSIS, &NOTE, &OBSERVED_DATA, &OPINION_SPEC, &REPORT,
    &THREAT_ACTOR, &TOOL, &VULNERABILITY, &RELATIONSHIP, &SIGHTING, &MARKING_DEFINITION, &LANGUAGE_CONTENT,
    &EXTENSION_DEFINITION, &ARTIFACT, &AUTONOMOUS_SYSTEM, &DIRECTORY, &DOMAIN_NAME, &EMAIL_ADDR, &EMAIL_MESSAGE, &FILE,
    &IPV4_ADDR, &IPV6_ADDR, &MAC_ADDR, &MUTEX, &NETWORK_TRAFFIC, &PROCESS, &SOFTWARE_SPEC, &URL, &USER_ACCOUNT,
    &WINDOWS_REGISTRY_KEY, &X509_CERTIFICATE,
];

/// The 2.1 table for `t`, if the spec defines the type.
pub fn spec_21(t: &str) -> Option<&'static ObjSpec> {
    TYPES_21.iter().copied().find(|s| s.name == t)
}

// ---------------------------------------------------------------------------------------
// STIX 2.0 (reduced: required properties, types of the common properties, references)
// ---------------------------------------------------------------------------------------

pub static ATTACK_PATTERN_20: ObjSpec = obj(
    "attack-pattern",
    &[p("name", Ty::Str), p("description", Ty::Str), l("kill_chain_phases", KCP)],
    &["name"],
    &[],
);
pub static CAMPAIGN_20: ObjSpec = obj(
    "campaign",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        l("aliases", Ty::Str),
        p("first_seen", Ty::Timestamp),
        p("last_seen", Ty::Timestamp),
        p("objective", Ty::Str),
    ],
    &["name"],
    &[],
);
pub static COURSE_OF_ACTION_20: ObjSpec =
    obj("course-of-action", &[p("name", Ty::Str), p("description", Ty::Str)], &["name"], &[]);
pub static IDENTITY_20: ObjSpec = obj(
    "identity",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        p("identity_class", Ty::Str),
        l("sectors", Ty::Str),
        p("contact_information", Ty::Str),
    ],
    &["name", "identity_class"],
    &[],
);
pub static INDICATOR_20: ObjSpec = obj(
    "indicator",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        p("pattern", Ty::Str),
        p("valid_from", Ty::Timestamp),
        p("valid_until", Ty::Timestamp),
        l("kill_chain_phases", KCP),
    ],
    &["pattern", "labels", "valid_from"],
    &[Rule::Special(Special::Pattern)],
);
pub static INTRUSION_SET_20: ObjSpec = obj(
    "intrusion-set",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        l("aliases", Ty::Str),
        p("first_seen", Ty::Timestamp),
        p("last_seen", Ty::Timestamp),
        l("goals", Ty::Str),
        p("resource_level", Ty::Str),
        p("primary_motivation", Ty::Str),
        l("secondary_motivations", Ty::Str),
    ],
    &["name"],
    &[],
);
pub static MALWARE_20: ObjSpec = obj(
    "malware",
    &[p("name", Ty::Str), p("description", Ty::Str), l("kill_chain_phases", KCP)],
    &["name", "labels"],
    &[],
);
pub static OBSERVED_DATA_20: ObjSpec = obj(
    "observed-data",
    &[
        p("first_observed", Ty::Timestamp),
        p("last_observed", Ty::Timestamp),
        p("number_observed", int(1, 999_999_999)),
        p("objects", Ty::Object),
    ],
    &["first_observed", "last_observed", "number_observed", "objects"],
    &[Rule::Special(Special::ObservedObjects)],
);
pub static REPORT_20: ObjSpec = obj(
    "report",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        p("published", Ty::Timestamp),
        l("object_refs", Ty::Ref(Targets::Any)),
    ],
    &["name", "labels", "published", "object_refs"],
    &[],
);
pub static THREAT_ACTOR_20: ObjSpec = obj(
    "threat-actor",
    &[
        p("name", Ty::Str),
        p("description", Ty::Str),
        l("aliases", Ty::Str),
        l("roles", Ty::Str),
        l("goals", Ty::Str),
        p("sophistication", Ty::Str),
        p("resource_level", Ty::Str),
        p("primary_motivation", Ty::Str),
        l("secondary_motivations", Ty::Str),
        l("personal_motivations", Ty::Str),
    ],
    &["name", "labels"],
    &[],
);
pub static TOOL_20: ObjSpec = obj(
    "tool",
    &[p("name", Ty::Str), p("description", Ty::Str), l("kill_chain_phases", KCP), p("tool_version", Ty::Str)],
    &["name", "labels"],
    &[],
);
pub static VULNERABILITY_20: ObjSpec =
    obj("vulnerability", &[p("name", Ty::Str), p("description", Ty::Str)], &["name"], &[]);
pub static RELATIONSHIP_20: ObjSpec = obj(
    "relationship",
    &[
        p("relationship_type", Ty::RelationshipType),
        p("description", Ty::Str),
        p("source_ref", Ty::Ref(Targets::SdoOrSco)),
        p("target_ref", Ty::Ref(Targets::SdoOrSco)),
    ],
    &["relationship_type", "source_ref", "target_ref"],
    &[],
);
pub static SIGHTING_20: ObjSpec = obj(
    "sighting",
    &[
        p("first_seen", Ty::Timestamp),
        p("last_seen", Ty::Timestamp),
        p("count", int(0, 999_999_999)),
        p("sighting_of_ref", Ty::Ref(Targets::Sdo)),
        l("observed_data_refs", refs(&["observed-data"])),
        l("where_sighted_refs", refs(&["identity"])),
        p("summary", Ty::Bool),
    ],
    &["sighting_of_ref"],
    &[],
);
pub static MARKING_DEFINITION_20: ObjSpec =
    obj("marking-definition", &[], &["definition_type", "definition"], &[Rule::Special(Special::MarkingDefinition)]);

/// All STIX 2.0 top-level object types (2.0 has no top-level SCOs).
pub static TYPES_20: &[&ObjSpec] = &[
    &ATTACK_PATTERN_20, &CAMPAIGN_20, &COURSE_OF_ACTION_20, &IDENTITY_20, &INDICATOR_20, &INTRUSION_SET_20,
    &MALWARE_20, &OBSERVED_DATA_20, &REPORT_20, &THREAT_ACTOR_20, &TOOL_20, &VULNERABILITY_20, &RELATIONSHIP_20,
    &SIGHTING_20, &MARKING_DEFINITION_20,
];

pub fn spec_20(t: &str) -> Option<&'static ObjSpec> {
    TYPES_20.iter().copied().find(|s| s.name == t)
}

/// Required properties of the 2.0 cyber observables embedded in observed-data `objects`
/// (2.0 Part 4); the rest of their shape is checked with the 2.1 tables where it agrees.
pub const SCO_REQUIRED_20: &[(&str, &[&str])] = &[
    ("autonomous-system", &["number"]),
    ("directory", &["path"]),
    ("domain-name", &["value"]),
    ("email-addr", &["value"]),
    ("email-message", &["is_multipart"]),
    ("ipv4-addr", &["value"]),
    ("ipv6-addr", &["value"]),
    ("mac-addr", &["value"]),
    ("mutex", &["name"]),
    ("network-traffic", &["protocols"]),
    ("software", &["name"]),
    ("url", &["value"]),
    ("user-account", &["user_id"]),
    ("windows-registry-key", &["key"]),
];

/// Embedded-observable references (inside observed-data `objects`): property → allowed
/// types of the referenced entry. Per 2.0 Part 4 / the 2.1 SCO sections (includes the 2.0-only
/// `process.binary_ref`).
pub const OBSERVABLE_REFS: &[(&str, &str, &[&str])] = &[
    ("directory", "contains_refs", &["file", "directory"]),
    ("domain-name", "resolves_to_refs", &["ipv4-addr", "ipv6-addr", "domain-name"]),
    ("email-addr", "belongs_to_ref", &["user-account"]),
    ("email-message", "from_ref", &["email-addr"]),
    ("email-message", "sender_ref", &["email-addr"]),
    ("email-message", "to_refs", &["email-addr"]),
    ("email-message", "cc_refs", &["email-addr"]),
    ("email-message", "bcc_refs", &["email-addr"]),
    ("email-message", "raw_email_ref", &["artifact"]),
    ("file", "parent_directory_ref", &["directory"]),
    ("file", "content_ref", &["artifact"]),
    ("ipv4-addr", "resolves_to_refs", &["mac-addr"]),
    ("ipv4-addr", "belongs_to_refs", &["autonomous-system"]),
    ("ipv6-addr", "resolves_to_refs", &["mac-addr"]),
    ("ipv6-addr", "belongs_to_refs", &["autonomous-system"]),
    ("network-traffic", "src_ref", &["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"]),
    ("network-traffic", "dst_ref", &["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"]),
    ("network-traffic", "src_payload_ref", &["artifact"]),
    ("network-traffic", "dst_payload_ref", &["artifact"]),
    ("network-traffic", "encapsulates_refs", &["network-traffic"]),
    ("network-traffic", "encapsulated_by_ref", &["network-traffic"]),
    ("process", "opened_connection_refs", &["network-traffic"]),
    ("process", "creator_user_ref", &["user-account"]),
    ("process", "binary_ref", &["file"]),
    ("process", "image_ref", &["file"]),
    ("process", "parent_ref", &["process"]),
    ("process", "child_refs", &["process"]),
    ("windows-registry-key", "creator_user_ref", &["user-account"]),
];

// ---------------------------------------------------------------------------------------
// Relationship summary (the “Relationships” table of each SDO): SHOULD, so a warning
// ---------------------------------------------------------------------------------------

/// `relationship_type`s any object may use (Relationship, “common relationships”).
pub const COMMON_RELATIONSHIPS: &[&str] = &["derived-from", "duplicate-of", "related-to"];

const ALL_SCOS: &[&str] = SCO_TYPES;

/// (source type, relationship_type, target types).
pub const RELATIONSHIPS: &[(&str, &str, &[&str])] = &[
    ("attack-pattern", "delivers", &["malware"]),
    ("attack-pattern", "targets", &["identity", "location", "vulnerability"]),
    ("attack-pattern", "uses", &["malware", "tool"]),
    ("campaign", "attributed-to", &["intrusion-set", "threat-actor"]),
    ("campaign", "compromises", &["infrastructure"]),
    ("campaign", "originates-from", &["location"]),
    ("campaign", "targets", &["identity", "location", "vulnerability"]),
    ("campaign", "uses", &["attack-pattern", "infrastructure", "malware", "tool"]),
    ("course-of-action", "investigates", &["indicator"]),
    ("course-of-action", "mitigates", &["attack-pattern", "indicator", "malware", "tool", "vulnerability"]),
    ("course-of-action", "remediates", &["malware", "vulnerability"]),
    ("domain-name", "resolves-to", &["domain-name", "ipv4-addr", "ipv6-addr"]),
    ("identity", "located-at", &["location"]),
    (
        "indicator",
        "indicates",
        &["attack-pattern", "campaign", "infrastructure", "intrusion-set", "malware", "threat-actor", "tool"],
    ),
    ("indicator", "based-on", &["observed-data"]),
    ("infrastructure", "communicates-with", &["infrastructure", "ipv4-addr", "ipv6-addr", "domain-name", "url"]),
    ("infrastructure", "consists-of", &["infrastructure", "observed-data"]),
    ("infrastructure", "consists-of", ALL_SCOS),
    ("infrastructure", "controls", &["infrastructure", "malware"]),
    ("infrastructure", "delivers", &["malware"]),
    ("infrastructure", "has", &["vulnerability"]),
    ("infrastructure", "hosts", &["tool", "malware"]),
    ("infrastructure", "located-at", &["location"]),
    ("infrastructure", "uses", &["infrastructure"]),
    ("intrusion-set", "attributed-to", &["threat-actor"]),
    ("intrusion-set", "compromises", &["infrastructure"]),
    ("intrusion-set", "hosts", &["infrastructure"]),
    ("intrusion-set", "originates-from", &["location"]),
    ("intrusion-set", "owns", &["infrastructure"]),
    ("intrusion-set", "targets", &["identity", "location", "vulnerability"]),
    ("intrusion-set", "uses", &["attack-pattern", "infrastructure", "malware", "tool"]),
    ("ipv4-addr", "resolves-to", &["mac-addr"]),
    ("ipv4-addr", "belongs-to", &["autonomous-system"]),
    ("ipv6-addr", "resolves-to", &["mac-addr"]),
    ("ipv6-addr", "belongs-to", &["autonomous-system"]),
    ("malware", "authored-by", &["threat-actor", "intrusion-set"]),
    ("malware", "beacons-to", &["infrastructure"]),
    ("malware", "exfiltrates-to", &["infrastructure"]),
    ("malware", "communicates-with", &["ipv4-addr", "ipv6-addr", "domain-name", "url"]),
    ("malware", "controls", &["malware"]),
    ("malware", "downloads", &["malware", "file", "tool"]),
    ("malware", "drops", &["malware", "file", "tool"]),
    ("malware", "exploits", &["vulnerability"]),
    ("malware", "originates-from", &["location"]),
    ("malware", "targets", &["identity", "infrastructure", "location", "vulnerability"]),
    ("malware", "uses", &["attack-pattern", "infrastructure", "malware", "tool"]),
    ("malware", "variant-of", &["malware"]),
    ("malware-analysis", "characterizes", &["malware"]),
    ("malware-analysis", "analysis-of", &["malware"]),
    ("malware-analysis", "static-analysis-of", &["malware"]),
    ("malware-analysis", "dynamic-analysis-of", &["malware"]),
    ("threat-actor", "attributed-to", &["identity"]),
    ("threat-actor", "compromises", &["infrastructure"]),
    ("threat-actor", "hosts", &["infrastructure"]),
    ("threat-actor", "owns", &["infrastructure"]),
    ("threat-actor", "impersonates", &["identity"]),
    ("threat-actor", "located-at", &["location"]),
    ("threat-actor", "targets", &["identity", "location", "vulnerability"]),
    ("threat-actor", "uses", &["attack-pattern", "infrastructure", "malware", "tool"]),
    ("tool", "delivers", &["malware"]),
    ("tool", "drops", &["malware"]),
    ("tool", "has", &["vulnerability"]),
    ("tool", "targets", &["identity", "infrastructure", "location", "vulnerability"]),
    ("tool", "uses", &["infrastructure"]),
];

/// Whether the relationship summary tables list `source -rel-> target`. `None` when the
/// source type has no table (custom or meta objects), so nothing can be said.
pub fn relationship_listed(source: &str, rel: &str, target: &str) -> Option<bool> {
    if COMMON_RELATIONSHIPS.contains(&rel) {
        return Some(true);
    }
    let mut known_source = false;
    for (s, r, targets) in RELATIONSHIPS {
        if *s == source {
            known_source = true;
            if *r == rel && targets.contains(&target) {
                return Some(true);
            }
        }
    }
    known_source.then_some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        for s in TYPES_21 {
            // every required / rule property is described, or is a common property
            let known = |n: &str| {
                s.prop(n).is_some()
                    || COMMON_21.iter().chain(COMMON_SCO_21).chain(COMMON_MARKING_21).any(|p| p.name == n)
            };
            for r in s.required {
                assert!(known(r), "{}: required {r} has no row", s.name);
            }
            for c in s.id_contributing {
                assert!(known(c), "{}: id-contributing {c} has no row", s.name);
            }
            for rule in s.rules {
                let names: &[&str] = match rule {
                    Rule::AtLeastOne(n) | Rule::ExactlyOne(n) | Rule::AtMostOne(n) => n,
                    Rule::Requires { needs, .. } => needs,
                    _ => &[],
                };
                for n in names {
                    assert!(known(n), "{}: rule names {n} without a row", s.name);
                }
            }
            assert_eq!(category(s.name) == Category::Sco, SCO_TYPES.contains(&s.name));
        }
        assert_eq!(TYPES_21.len(), SDO_TYPES.len() + SRO_TYPES.len() + SCO_TYPES.len() + 3);
        for s in TYPES_20 {
            assert!(spec_21(s.name).is_some(), "{} is also a 2.1 type", s.name);
        }
    }

    #[test]
    fn relationship_table() {
        assert_eq!(relationship_listed("indicator", "indicates", "malware"), Some(true));
        assert_eq!(relationship_listed("indicator", "indicates", "identity"), Some(false));
        assert_eq!(relationship_listed("x-custom", "indicates", "identity"), None);
        assert_eq!(relationship_listed("x-custom", "related-to", "identity"), Some(true));
        assert_eq!(relationship_listed("infrastructure", "consists-of", "file"), Some(true));
    }
}
