//! Reference tables of the synthetic world: home operators, numbering plans and networks of the
//! countries our subscribers visit, travel destinations, land borders and device type codes,
//! plus helpers that build IMSIs, MSISDNs, IMEIs and called numbers from them.
//!
//! The MCC/MNC codes, mobile prefixes and number lengths are real-world values (public
//! numbering plans), simplified to a few networks per country. Numbers themselves are random.

use std::collections::HashMap;

use roamguard::countries::{self, CountryCode, DestinationRange, RangeKind};

use roamguard::rng::Rng;

use super::params::WorldParams;

/// Numbering and networks of one country.
pub struct Numbering {
    pub code: &'static str,
    /// MCC+MNC of a few mobile networks (5 or 6 digits).
    pub networks: &'static [&'static str],
    /// Leading digits of mobile numbers, after the calling code.
    pub mobile: &'static [&'static str],
    /// Length of the national significant number (digits after the calling code).
    pub nsn: u8,
}

const fn n(
    code: &'static str,
    networks: &'static [&'static str],
    mobile: &'static [&'static str],
    nsn: u8,
) -> Numbering {
    Numbering { code, networks, mobile, nsn }
}

/// Every country a subscriber can live in or roam in. NANP members other than the US and Canada
/// carry their own 4-digit calling code in the country table, so their `nsn` is 7.
#[rustfmt::skip]
pub static NUMBERING: &[Numbering] = &[
    n("AD", &["21303"], &["3", "6"], 6),
    n("AE", &["42402", "42403"], &["50", "52", "54", "55", "56", "58"], 9),
    n("AL", &["27601", "27602", "27603"], &["67", "68", "69"], 9),
    n("AR", &["722010", "722070", "722310"], &["911", "9351", "9341", "9261"], 11),
    n("AT", &["23201", "23203", "23205"], &["650", "660", "664", "676", "680", "699"], 10),
    n("AU", &["50501", "50502", "50503"], &["4"], 9),
    n("BE", &["20601", "20610", "20620"], &["47", "48", "49"], 9),
    n("BG", &["28401", "28403", "28405"], &["87", "88", "89"], 9),
    n("BH", &["42601", "42602", "42604"], &["3"], 8),
    n("BR", &["72405", "72406", "72411"], &[
        "119", "219", "319", "419", "519", "619", "719", "819",
    ], 11),
    n("BW", &["65201", "65202"], &["71", "72", "74", "75"], 8),
    n("CA", &["302220", "302610", "302720"], &["416", "514", "604", "403", "613", "647"], 10),
    n("CH", &["22801", "22802", "22803"], &["76", "77", "78", "79"], 9),
    n("CL", &["73001", "73002", "73003"], &["9"], 9),
    n("CN", &["46000", "46001", "46011"], &["13", "15", "18"], 11),
    n("CO", &["732101", "732103", "732123"], &["30", "31", "32"], 10),
    n("CY", &["28001", "28010"], &["96", "97", "99"], 8),
    n("CZ", &["23001", "23002", "23003"], &["60", "72", "73", "77"], 9),
    n("DE", &["26201", "26202", "26203"], &[
        "151", "152", "157", "160", "162", "170", "171", "172", "176", "179",
    ], 11),
    n("DK", &["23801", "23802", "23820"], &["2", "3", "4", "5"], 8),
    n("DO", &["37001", "37002"], &["2", "3", "4", "5", "6", "7", "8", "9"], 7),
    n("EE", &["24801", "24802", "24803"], &["5"], 8),
    n("EG", &["60201", "60202", "60203"], &["10", "11", "12", "15"], 10),
    n("ES", &["21401", "21403", "21404", "21407"], &["6", "7"], 9),
    n("FR", &["20801", "20810", "20815", "20820"], &["6", "7"], 9),
    n("GB", &["23410", "23415", "23420", "23430"], &["74", "75", "77", "78", "79"], 10),
    n("GR", &["20201", "20205", "20210"], &["69"], 10),
    n("HK", &["45400", "45406", "45412"], &["5", "6", "9"], 8),
    n("HR", &["21901", "21902", "21910"], &["91", "92", "95", "97", "98", "99"], 9),
    n("HU", &["21601", "21630", "21670"], &["20", "30", "70"], 9),
    n("ID", &["51001", "51010", "51011"], &["811", "812", "813", "821", "852", "857", "877"], 10),
    n("IE", &["27201", "27202", "27205"], &["83", "85", "86", "87", "89"], 9),
    n("IL", &["42501", "42502", "42503"], &["50", "52", "53", "54", "58"], 9),
    n("IN", &["40410", "40445", "405857"], &[
        "98", "99", "97", "96", "94", "93", "90", "88", "87", "80", "70",
    ], 10),
    n("IT", &["22201", "22210", "22250", "22288"], &["32", "33", "34", "35", "36", "38"], 10),
    n("JM", &["338050", "338180"], &["2", "3", "4", "5", "6", "7", "8", "9"], 7),
    n("JO", &["41601", "41603", "41677"], &["77", "78", "79"], 9),
    n("JP", &["44010", "44020", "44050"], &["90", "80", "70"], 10),
    n("KE", &["63902", "63903", "63907"], &["7", "1"], 9),
    n("KR", &["45005", "45006", "45008"], &["10"], 10),
    n("KW", &["41902", "41903", "41904"], &["5", "6", "9"], 8),
    n("LB", &["41501", "41503"], &["3", "70", "71"], 8),
    n("LK", &["41301", "41302"], &["71", "76", "77"], 9),
    n("LT", &["24601", "24602", "24603"], &["6"], 8),
    n("LU", &["27001", "27077", "27099"], &["621", "661", "691"], 9),
    n("LV", &["24701", "24702"], &["2"], 8),
    n("MA", &["60400", "60401", "60402"], &["6", "7"], 9),
    n("MC", &["21210"], &["6"], 9),
    n("MT", &["27801", "27821", "27877"], &["79", "99", "77"], 8),
    n("MU", &["61701", "61710"], &["5"], 8),
    n("MV", &["47201", "47202"], &["7", "9"], 7),
    n("MX", &["334020", "334050"], &["55", "33", "81", "998"], 10),
    n("MY", &["50212", "50213", "50216", "50219"], &["12", "13", "16", "17", "19"], 9),
    n("MZ", &["64301", "64303", "64304"], &["82", "84", "85", "86"], 9),
    n("NA", &["64901", "64903"], &["81", "85"], 9),
    n("NL", &["20404", "20408", "20416"], &["6"], 9),
    n("NO", &["24201", "24202"], &["4", "9"], 8),
    n("NP", &["42901", "42902"], &["98"], 10),
    n("NZ", &["53001", "53005", "53024"], &["21", "22", "27"], 9),
    n("OM", &["42202", "42203"], &["9", "7"], 8),
    n("PH", &["51502", "51503"], &["905", "906", "917", "918", "919", "920"], 10),
    n("PK", &["41001", "41003", "41004"], &["30", "31", "32", "33", "34"], 10),
    n("PL", &["26001", "26002", "26003", "26006"], &["5", "6", "7", "88"], 9),
    n("PT", &["26801", "26803", "26806"], &["91", "92", "93", "96"], 9),
    n("QA", &["42701", "42702"], &["3", "5", "6", "7"], 8),
    n("RO", &["22601", "22603", "22610"], &["7"], 9),
    n("RS", &["22001", "22003", "22005"], &["6"], 9),
    n("SA", &["42001", "42003", "42004"], &["5"], 9),
    n("SE", &["24001", "24002", "24007"], &["70", "72", "73", "76", "79"], 9),
    n("SG", &["52501", "52503", "52505"], &["8", "9"], 8),
    n("SI", &["29340", "29341", "29370"], &["30", "31", "40", "41", "51", "64", "70"], 8),
    n("SK", &["23101", "23102", "23106"], &["90", "91", "94"], 9),
    n("SN", &["60801", "60802"], &["70", "76", "77", "78"], 9),
    n("TH", &["52001", "52003", "52004", "52005"], &["6", "8", "9"], 9),
    n("TN", &["60501", "60502", "60503"], &["2", "5", "9"], 8),
    n("TR", &["28601", "28602", "28603"], &["50", "53", "54", "55"], 10),
    n("TW", &["46601", "46692", "46697"], &["9"], 9),
    n("TZ", &["64002", "64004", "64005"], &["7", "6"], 9),
    n("US", &["310260", "310410", "311480"], &[
        "201", "202", "212", "213", "305", "310", "312", "347", "415", "617", "646", "702", "713",
        "718", "786", "917",
    ], 10),
    n("UY", &["74801", "74807", "74810"], &["9"], 8),
    n("VN", &["45201", "45202", "45204"], &["9", "8", "3", "7"], 9),
    n("ZA", &["65501", "65507", "65510"], &[
        "60", "61", "71", "72", "73", "76", "78", "79", "82", "83", "84",
    ], 9),
];

/// Home operators' countries and their share of the subscriber base.
pub static HOMES: &[(&str, f64)] = &[
    ("FR", 15.0),
    ("DE", 15.0),
    ("GB", 14.0),
    ("ES", 8.0),
    ("IT", 8.0),
    ("NL", 6.0),
    ("CH", 3.0),
    ("US", 10.0),
    ("BR", 5.0),
    ("IN", 6.0),
    ("ZA", 3.0),
    ("AE", 4.0),
    ("JP", 3.0),
];

/// Where subscribers of each home country travel, with relative popularity.
#[rustfmt::skip]
pub static DESTINATIONS: &[(&str, &[(&str, f64)])] = &[
    ("FR", &[
        ("ES", 14.0), ("IT", 12.0), ("DE", 8.0), ("BE", 8.0), ("CH", 8.0), ("GB", 8.0), ("PT", 6.0),
        ("GR", 4.0), ("NL", 4.0), ("MA", 5.0), ("TN", 3.0), ("US", 5.0), ("TR", 2.0), ("TH", 2.0),
        ("AE", 2.0), ("HR", 2.0), ("CA", 2.0), ("JP", 1.0), ("SN", 1.0),
    ]),
    ("DE", &[
        ("AT", 12.0), ("IT", 12.0), ("ES", 12.0), ("FR", 8.0), ("NL", 6.0), ("CH", 8.0),
        ("GR", 5.0), ("TR", 6.0), ("HR", 5.0), ("PL", 5.0), ("CZ", 4.0), ("DK", 4.0), ("GB", 4.0),
        ("US", 4.0), ("TH", 2.0), ("AE", 2.0), ("PT", 3.0), ("HU", 2.0),
    ]),
    ("GB", &[
        ("ES", 16.0), ("FR", 12.0), ("IT", 7.0), ("PT", 7.0), ("GR", 6.0), ("IE", 6.0), ("US", 8.0),
        ("NL", 4.0), ("DE", 4.0), ("TR", 5.0), ("AE", 4.0), ("CY", 3.0), ("MT", 2.0), ("TH", 2.0),
        ("IN", 3.0), ("CA", 2.0),
    ]),
    ("ES", &[
        ("FR", 14.0), ("PT", 12.0), ("IT", 8.0), ("GB", 8.0), ("DE", 5.0), ("MA", 6.0), ("US", 4.0),
        ("MX", 4.0), ("AR", 2.0), ("CO", 2.0), ("NL", 3.0), ("CH", 2.0), ("AD", 3.0),
    ]),
    ("IT", &[
        ("FR", 12.0), ("ES", 10.0), ("CH", 10.0), ("DE", 8.0), ("GR", 6.0), ("AT", 6.0),
        ("GB", 5.0), ("HR", 4.0), ("US", 4.0), ("EG", 3.0), ("TN", 2.0), ("AL", 3.0), ("MT", 2.0),
        ("SI", 3.0),
    ]),
    ("NL", &[
        ("BE", 14.0), ("DE", 14.0), ("FR", 10.0), ("ES", 10.0), ("IT", 6.0), ("GB", 6.0),
        ("AT", 4.0), ("PT", 3.0), ("TR", 4.0), ("GR", 3.0), ("US", 3.0), ("ID", 1.0), ("MA", 2.0),
    ]),
    ("CH", &[
        ("FR", 14.0), ("DE", 12.0), ("IT", 14.0), ("AT", 6.0), ("ES", 6.0), ("PT", 4.0),
        ("GB", 4.0), ("GR", 3.0), ("US", 3.0), ("TH", 1.0),
    ]),
    ("US", &[
        ("MX", 18.0), ("CA", 16.0), ("GB", 8.0), ("FR", 5.0), ("IT", 5.0), ("DE", 4.0), ("ES", 4.0),
        ("JP", 3.0), ("DO", 4.0), ("JM", 3.0), ("BR", 2.0), ("CN", 2.0), ("IN", 2.0), ("IL", 1.0),
        ("KR", 1.0),
    ]),
    ("BR", &[
        ("AR", 12.0), ("US", 14.0), ("PT", 10.0), ("UY", 6.0), ("CL", 6.0), ("ES", 5.0),
        ("FR", 4.0), ("IT", 5.0), ("CO", 2.0), ("MX", 2.0), ("GB", 2.0),
    ]),
    ("IN", &[
        ("AE", 18.0), ("SG", 8.0), ("TH", 8.0), ("GB", 6.0), ("US", 6.0), ("SA", 6.0), ("QA", 4.0),
        ("MY", 5.0), ("LK", 4.0), ("NP", 3.0), ("MV", 2.0), ("OM", 3.0), ("KW", 2.0), ("AU", 2.0),
    ]),
    ("ZA", &[
        ("NA", 10.0), ("BW", 8.0), ("MZ", 8.0), ("GB", 8.0), ("AE", 6.0), ("MU", 5.0), ("US", 4.0),
        ("KE", 3.0), ("TZ", 3.0), ("DE", 2.0), ("FR", 2.0), ("NL", 2.0), ("AU", 2.0), ("PT", 2.0),
    ]),
    ("AE", &[
        ("GB", 10.0), ("IN", 12.0), ("SA", 8.0), ("OM", 8.0), ("EG", 6.0), ("TR", 5.0), ("TH", 5.0),
        ("FR", 3.0), ("PK", 5.0), ("LB", 3.0), ("JO", 3.0), ("US", 3.0), ("QA", 3.0), ("BH", 3.0),
    ]),
    ("JP", &[
        ("KR", 16.0), ("US", 14.0), ("TW", 10.0), ("TH", 8.0), ("SG", 6.0), ("HK", 6.0),
        ("CN", 6.0), ("FR", 4.0), ("AU", 4.0), ("GB", 3.0), ("IT", 3.0), ("VN", 3.0), ("PH", 2.0),
        ("DE", 2.0),
    ]),
];

/// Countries a border commuter of each home country works in.
#[rustfmt::skip]
pub static COMMUTE: &[(&str, &[(&str, f64)])] = &[
    ("FR", &[
        ("CH", 10.0), ("LU", 6.0), ("BE", 5.0), ("DE", 4.0), ("MC", 3.0), ("ES", 2.0), ("IT", 1.0),
    ]),
    ("DE", &[
        ("AT", 6.0), ("CH", 5.0), ("NL", 5.0), ("LU", 4.0), ("PL", 3.0), ("FR", 3.0), ("DK", 2.0),
        ("BE", 2.0), ("CZ", 2.0),
    ]),
    ("GB", &[("IE", 8.0), ("FR", 1.0)]),
    ("ES", &[("PT", 6.0), ("FR", 3.0), ("AD", 3.0)]),
    ("IT", &[("CH", 10.0), ("FR", 3.0), ("AT", 2.0), ("SI", 2.0)]),
    ("NL", &[("BE", 8.0), ("DE", 8.0)]),
    ("CH", &[("FR", 6.0), ("DE", 6.0), ("IT", 6.0), ("AT", 2.0)]),
    ("US", &[("CA", 8.0), ("MX", 8.0)]),
    ("BR", &[("UY", 3.0), ("AR", 5.0)]),
    ("IN", &[("NP", 3.0)]),
    ("ZA", &[("BW", 3.0), ("NA", 2.0), ("MZ", 3.0)]),
    ("AE", &[("OM", 8.0)]),
];

/// Land borders (and the Channel tunnel / Øresund bridge) between roaming countries: the road
/// network of lorry drivers and two-country commuters.
#[rustfmt::skip]
pub static BORDERS: &[(&str, &str)] = &[
    ("FR", "BE"), ("FR", "DE"), ("FR", "CH"), ("FR", "IT"), ("FR", "ES"), ("FR", "LU"),
    ("FR", "MC"), ("FR", "AD"), ("FR", "GB"), ("ES", "PT"), ("ES", "AD"), ("BE", "NL"),
    ("BE", "DE"), ("BE", "LU"), ("NL", "DE"), ("DE", "AT"), ("DE", "CH"), ("DE", "PL"),
    ("DE", "CZ"), ("DE", "DK"), ("DE", "LU"), ("AT", "CH"), ("AT", "IT"), ("AT", "CZ"),
    ("AT", "SK"), ("AT", "HU"), ("AT", "SI"), ("CH", "IT"), ("IT", "SI"), ("CZ", "PL"),
    ("CZ", "SK"), ("SK", "PL"), ("SK", "HU"), ("HU", "RO"), ("HU", "HR"), ("HU", "SI"),
    ("HU", "RS"), ("SI", "HR"), ("HR", "RS"), ("RO", "BG"), ("BG", "GR"), ("BG", "TR"),
    ("GR", "TR"), ("GR", "AL"), ("PL", "LT"), ("LT", "LV"), ("LV", "EE"), ("DK", "SE"),
    ("SE", "NO"), ("US", "CA"), ("US", "MX"), ("AR", "BR"), ("AR", "CL"), ("AR", "UY"),
    ("BR", "UY"), ("ZA", "NA"), ("ZA", "BW"), ("ZA", "MZ"), ("NA", "BW"), ("AE", "OM"),
    ("AE", "SA"), ("SA", "QA"), ("SA", "JO"), ("SA", "KW"), ("SA", "BH"), ("MY", "SG"),
    ("MY", "TH"), ("IN", "NP"), ("KE", "TZ"), ("TZ", "MZ"), ("GB", "IE"), ("PT", "ES"),
];

/// Border pairs whose lower-bound distance (per the shared country table) exceeds this are
/// ignored.
pub const MAX_BORDER_KM: f32 = 300.0;

/// Countries relatives of diaspora subscribers live in, per home country. Several are high-risk
/// IRSF destinations: calling them is legitimate for these subscribers.
#[rustfmt::skip]
pub static FAMILY: &[(&str, &[(&str, f64)])] = &[
    ("FR", &[
        ("MA", 5.0), ("DZ", 5.0), ("TN", 3.0), ("SN", 2.0), ("CI", 2.0), ("CM", 2.0), ("KM", 1.0),
        ("GN", 1.0),
    ]),
    ("DE", &[("TR", 6.0), ("PL", 4.0), ("RU", 3.0), ("RS", 2.0), ("SY", 1.0), ("ER", 1.0)]),
    ("GB", &[
        ("IN", 5.0), ("PK", 5.0), ("NG", 3.0), ("SO", 2.0), ("JM", 2.0), ("GH", 2.0), ("SL", 1.0),
    ]),
    ("ES", &[("MA", 5.0), ("CO", 3.0), ("EC", 3.0), ("RO", 3.0), ("CU", 1.0), ("GQ", 1.0)]),
    ("IT", &[("RO", 5.0), ("AL", 4.0), ("MA", 3.0), ("EG", 2.0), ("CN", 2.0), ("ER", 1.0)]),
    ("NL", &[("TR", 5.0), ("MA", 5.0), ("SR", 3.0), ("CW", 1.0)]),
    ("CH", &[("IT", 4.0), ("PT", 4.0), ("RS", 2.0), ("TR", 2.0), ("ER", 1.0)]),
    ("US", &[
        ("MX", 6.0), ("PH", 3.0), ("IN", 3.0), ("DO", 2.0), ("CU", 2.0), ("HT", 2.0), ("LR", 1.0),
    ]),
    ("BR", &[("PT", 4.0), ("BO", 3.0), ("PY", 3.0), ("AO", 1.0)]),
    ("IN", &[("AE", 5.0), ("SA", 4.0), ("US", 3.0), ("GB", 3.0), ("KW", 2.0)]),
    ("ZA", &[("ZW", 5.0), ("MZ", 3.0), ("NG", 2.0), ("LS", 2.0), ("CD", 1.0)]),
    ("AE", &[("IN", 6.0), ("PK", 5.0), ("PH", 4.0), ("EG", 3.0), ("BD", 3.0), ("SO", 1.0)]),
    ("JP", &[("CN", 4.0), ("PH", 3.0), ("VN", 3.0), ("KR", 2.0), ("BR", 1.0)]),
];

/// Countries whose residents a Wangiri dialer rings: ordinary, wealthy destinations.
#[rustfmt::skip]
pub static WANGIRI_VICTIMS: &[&str] =
    &["US", "GB", "DE", "FR", "IT", "ES", "CA", "AU", "NL",
      "BE", "CH", "SE", "AT", "IE", "PL", "PT", "JP", "NO"];

/// Type allocation codes (first 8 IMEI digits) of common handsets.
#[rustfmt::skip]
pub static PHONE_TACS: &[&str] = &[
    "35332811", "35391110", "35407115", "35698109", "35875609", "35209900", "35438506", "35676211",
    "86814104", "86769204", "35961406", "35290611", "01326300", "35345311", "86446103", "35925406",
    "35466011", "35730209", "86289005", "35320211",
];

/// TACs of mobile routers and GSM modules (MiFi hotspots, IoT modems, SIM-box gateways).
#[rustfmt::skip]
pub static MODULE_TACS: &[&str] =
    &["86106204", "86725503", "86261504", "86695903", "35473208", "86775004"];

/// Precomputed lookups over the static tables and the shared country reference data, and the
/// behaviour parameters of the world being generated.
pub struct World {
    pub params: WorldParams,
    numbering: HashMap<CountryCode, &'static Numbering>,
    /// Countries with risk tier 2 (frequent IRSF / Wangiri terminations).
    pub risky: Vec<CountryCode>,
    /// Countries with risk tier 1.
    pub elevated: Vec<CountryCode>,
    pub premium_ranges: Vec<&'static DestinationRange>,
    pub satellite_ranges: Vec<&'static DestinationRange>,
    pub hot_ranges: Vec<&'static DestinationRange>,
    /// Every roaming country with networks, for clones and fraud far from home.
    pub roamable: Vec<CountryCode>,
    neighbours: HashMap<CountryCode, Vec<CountryCode>>,
}

pub fn code(text: &'static str) -> CountryCode {
    CountryCode::from_static(text)
}

fn table_for(
    table: &'static [(&'static str, &'static [(&'static str, f64)])],
    home: CountryCode,
) -> &'static [(&'static str, f64)] {
    table.iter().find(|(h, _)| code(h) == home).map(|(_, list)| *list).unwrap_or(&[])
}

impl World {
    pub fn new(params: WorldParams) -> World {
        let numbering = NUMBERING.iter().map(|n| (code(n.code), n)).collect();
        let by_tier = |tier: u8| countries::COUNTRIES.iter().filter(|c| c.risk_tier == tier).map(|c| c.code).collect();
        let ranges = |kind: RangeKind| countries::DESTINATION_RANGES.iter().filter(|r| r.kind == kind).collect();
        let mut neighbours: HashMap<CountryCode, Vec<CountryCode>> = HashMap::new();
        for (a, b) in BORDERS {
            let (a, b) = (code(a), code(b));
            // The shared geography is coarse (centroid and radius): pairs it places far apart
            // would look like impossible travel at every crossing, so they are not used.
            if countries::min_travel_km(a, b).unwrap_or(f32::MAX) > MAX_BORDER_KM {
                continue;
            }
            for (x, y) in [(a, b), (b, a)] {
                let list = neighbours.entry(x).or_default();
                if !list.contains(&y) {
                    list.push(y);
                }
            }
        }
        World {
            params,
            numbering,
            risky: by_tier(2),
            elevated: by_tier(1),
            premium_ranges: ranges(RangeKind::PremiumRate),
            satellite_ranges: ranges(RangeKind::Satellite),
            hot_ranges: ranges(RangeKind::HotRange),
            roamable: NUMBERING.iter().map(|n| code(n.code)).collect(),
            neighbours,
        }
    }

    pub fn destinations(&self, home: CountryCode) -> &'static [(&'static str, f64)] {
        table_for(DESTINATIONS, home)
    }
    pub fn commute(&self, home: CountryCode) -> &'static [(&'static str, f64)] {
        table_for(COMMUTE, home)
    }
    pub fn family(&self, home: CountryCode) -> &'static [(&'static str, f64)] {
        table_for(FAMILY, home)
    }
    /// Countries sharing a border with `c` (in table order, so choices stay deterministic).
    pub fn neighbours(&self, c: CountryCode) -> &[CountryCode] {
        self.neighbours.get(&c).map(Vec::as_slice).unwrap_or(&[])
    }

    /// MCC+MNC of a network in `country`, when we know its networks.
    pub fn network(&self, country: CountryCode, rng: &mut Rng) -> Option<&'static str> {
        let nets = self.numbering.get(&country)?.networks;
        Some(rng.pick(nets))
    }

    /// A 15-digit IMSI on a network of `home`: MCC+MNC then a random MSIN.
    pub fn imsi(&self, home: CountryCode, rng: &mut Rng) -> String {
        let mut out = String::with_capacity(15);
        out.push_str(self.network(home, rng).unwrap_or("00101"));
        let len = 15 - out.len();
        rng.push_digits(&mut out, len);
        out
    }

    /// A random E.164 number in `country`: mobile (from the numbering plan) or fixed-line.
    pub fn number(&self, country: CountryCode, mobile: bool, rng: &mut Rng) -> String {
        let dial = countries::info(country).map(|i| i.dial_code).unwrap_or("1");
        let mut out = String::with_capacity(15);
        out.push_str(dial);
        match self.numbering.get(&country) {
            Some(plan) => {
                let before = out.len();
                if mobile {
                    out.push_str(rng.pick(plan.mobile));
                } else if dial == "1" {
                    // NANP fixed lines share the area codes of the mobile plan.
                    out.push_str(rng.pick(plan.mobile));
                } else {
                    out.push((b'2' + rng.below(4) as u8) as char);
                }
                let filled = out.len() - before;
                rng.push_digits(&mut out, (plan.nsn as usize).saturating_sub(filled));
            }
            None => {
                // Countries outside our table: a plausible national number of 8–9 digits
                // that never starts with 0 and keeps the whole number within 15 digits.
                out.push((b'2' + rng.below(8) as u8) as char);
                let nsn = (8 + rng.below(2) as usize).min(15 - dial.len());
                rng.push_digits(&mut out, nsn - 1);
            }
        }
        out.truncate(15);
        out
    }

    /// A number inside a destination range (premium, satellite or hot): as long as the
    /// country's numbers when we know its plan, else 11–12 digits.
    pub fn range_number(&self, range: &DestinationRange, rng: &mut Rng) -> String {
        let mut out = String::with_capacity(15);
        out.push_str(range.prefix);
        let planned = countries::country_of_number(range.prefix).and_then(|c| {
            let plan = self.numbering.get(&c)?;
            Some(countries::info(c)?.dial_code.len() + plan.nsn as usize)
        });
        let total = planned.unwrap_or(11 + rng.below(2) as usize);
        let len = total.saturating_sub(out.len()).max(4);
        rng.push_digits(&mut out, len);
        out.truncate(15);
        out
    }

    /// A number in a high-risk destination: a documented range or a tier-2 country.
    pub fn risky_number(&self, rng: &mut Rng) -> String {
        let roll = rng.f64();
        let pool = if roll < 0.35 {
            &self.premium_ranges
        } else if roll < 0.55 {
            &self.satellite_ranges
        } else {
            &self.hot_ranges
        };
        if !pool.is_empty() && rng.bernoulli(0.7) {
            let range = pool[rng.index(pool.len())];
            return self.range_number(range, rng);
        }
        if self.risky.is_empty() {
            return self.number(code("CU"), true, rng);
        }
        let country = self.risky[rng.index(self.risky.len())];
        self.number(country, rng.bernoulli(0.6), rng)
    }
}

/// A 15-digit IMEI: TAC, 6-digit serial and the Luhn check digit.
pub fn imei(tacs: &[&str], rng: &mut Rng) -> String {
    let mut out = String::with_capacity(15);
    out.push_str(rng.pick(tacs));
    rng.push_digits(&mut out, 6);
    let check = luhn_check_digit(&out);
    out.push(char::from(b'0' + check));
    out
}

/// Luhn check digit of a digit string (as IMEIs use): double every second digit from the right
/// of the payload.
pub fn luhn_check_digit(payload: &str) -> u8 {
    let mut sum = 0u32;
    for (i, b) in payload.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    ((10 - sum % 10) % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_tables_name_countries_should_all_be_assigned_codes() {
        let check = |c: &str| assert!(CountryCode::parse(c).is_some(), "unknown country {c}");
        NUMBERING.iter().for_each(|n| check(n.code));
        HOMES.iter().for_each(|(c, _)| check(c));
        for table in [DESTINATIONS, COMMUTE, FAMILY] {
            for (home, list) in table {
                check(home);
                list.iter().for_each(|(c, _)| check(c));
            }
        }
        BORDERS.iter().for_each(|(a, b)| {
            check(a);
            check(b);
        });
        WANGIRI_VICTIMS.iter().for_each(|c| check(c));
        // Every home has destinations, and every destination has networks, so events can name one.
        for (home, _) in HOMES {
            assert!(DESTINATIONS.iter().any(|(h, list)| h == home && !list.is_empty()), "{home}");
        }
        for (home, list) in DESTINATIONS.iter().chain(COMMUTE) {
            assert!(NUMBERING.iter().any(|n| n.code == *home));
            for (c, _) in *list {
                assert!(NUMBERING.iter().any(|n| n.code == *c), "no networks for {c}");
            }
        }
        for (a, b) in BORDERS {
            assert!(NUMBERING.iter().any(|n| n.code == *a) && NUMBERING.iter().any(|n| n.code == *b));
        }
    }

    #[test]
    fn when_generating_numbers_should_map_back_to_their_country() {
        let world = World::new(WorldParams::default());
        let mut rng = Rng::new(9);
        for plan in NUMBERING {
            let c = code(plan.code);
            for mobile in [true, false] {
                let number = world.number(c, mobile, &mut rng);
                assert!(number.len() <= 15 && !number.starts_with('0'), "{number}");
                let back = countries::country_of_number(&number);
                // Canada shares +1 with the US; a decoder resolves it to the US, which is fine.
                if plan.code != "CA" {
                    assert_eq!(back, Some(c), "{number} should belong to {}", plan.code);
                }
            }
            for net in plan.networks {
                assert!(net.len() == 5 || net.len() == 6);
            }
            assert_eq!(world.imsi(c, &mut rng).len(), 15);
        }
        for _ in 0..200 {
            let number = world.risky_number(&mut rng);
            assert!((3..=15).contains(&number.len()) && !number.starts_with('0'), "{number}");
        }
    }

    #[test]
    fn when_building_imei_should_carry_valid_luhn_digit() {
        // Known valid IMEI from the GSMA examples.
        assert_eq!(luhn_check_digit("49015420323751"), 8);
        let mut rng = Rng::new(5);
        let i = imei(PHONE_TACS, &mut rng);
        assert_eq!(i.len(), 15);
        assert_eq!(luhn_check_digit(&i[..14]), i.as_bytes()[14] - b'0');
    }
}
