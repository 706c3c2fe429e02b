//! Static reference data behind [`super`]: one row per assigned ISO 3166-1 alpha-2 code, the
//! owners of shared calling codes, extra calling-code prefixes, and the starter table of
//! premium-rate / satellite / hot destination ranges.
//!
//! Sources and approximations:
//! - Codes: the 249 assigned ISO 3166-1 alpha-2 codes (user-assigned codes such as `XK` are not
//!   included). `COUNTRIES` is sorted by code; [`super::info`] binary-searches it.
//! - Calling codes: ITU-T E.164 assignments as listed in public numbering plans (as in
//!   libphonenumber's metadata). Members of a shared code carry their more specific prefix where
//!   one exists: NANP members their 1 + area code (`"1876"` Jamaica), Kazakhstan `"77"`, Svalbard
//!   `"4779"`, Åland `"35818"`, Curaçao `"5999"`, Caribbean Netherlands `"5997"`, Mayotte
//!   `"262269"`, Cocos `"6189162"`, Christmas Island `"6189164"`. Uninhabited territories with no
//!   numbering of their own take the nearest operating code (Bouvet `"47"`, Heard `"672"`,
//!   French Southern Territories `"262"`, South Georgia `"500"`, Pitcairn `"64"`, US Minor
//!   Outlying Islands `"1"`). Which country a bare shared code resolves to is given by
//!   [`MAIN_DIAL_CODE_OWNERS`], not by table order.
//! - Centroids: approximate (about one decimal degree or coarser), from public country
//!   summaries; for archipelagos it is the main island group.
//! - Radius: `sqrt(area / π)` in km, rounded, from the total area in public country data (it
//!   includes inland water, so it slightly overstates land area); at least 1 km.
//! - UTC offsets: standard time (no DST) of the most populated area, in minutes, from the IANA
//!   time zone of the largest city (Sydney for Australia, New York for the US, Moscow for
//!   Russia, Kinshasa for DR Congo, Almaty for Kazakhstan, which moved to UTC+5 in 2024).
//! - Risk tiers: judgement from public industry IRSF / Wangiri reporting; see
//!   [`CountryInfo::risk_tier`]. Tune them from the operator's own fraud data.

use super::{CountryCode, CountryInfo, DestinationRange, RangeKind};

/// Row builder that keeps the table one short line per country:
/// `c(code, dial_code, lat, lon, radius_km, utc_offset_min, risk_tier)`.
const fn c(
    code: &'static str,
    dial_code: &'static str,
    lat: f32,
    lon: f32,
    radius_km: f32,
    utc_offset_min: i16,
    risk_tier: u8,
) -> CountryInfo {
    CountryInfo { code: CountryCode::from_static(code), dial_code, lat, lon, radius_km, utc_offset_min, risk_tier }
}

/// Every assigned ISO 3166-1 alpha-2 code, sorted by code.
pub static COUNTRIES: &[CountryInfo] = &[
    c("AD", "376", 42.5, 1.5, 12.0, 60, 0),        // Andorra
    c("AE", "971", 24.0, 54.0, 162.0, 240, 0),     // United Arab Emirates
    c("AF", "93", 33.0, 65.0, 454.0, 270, 1),      // Afghanistan
    c("AG", "1268", 17.1, -61.8, 12.0, -240, 0),   // Antigua and Barbuda
    c("AI", "1264", 18.2, -63.2, 6.0, -240, 0),    // Anguilla
    c("AL", "355", 41.0, 20.0, 96.0, 60, 1),       // Albania
    c("AM", "374", 40.0, 45.0, 97.0, 240, 0),      // Armenia
    c("AO", "244", -12.5, 18.5, 630.0, 60, 0),     // Angola
    c("AQ", "672", -90.0, 0.0, 2111.0, 720, 0),    // Antarctica
    c("AR", "54", -34.0, -64.0, 938.0, -180, 0),   // Argentina
    c("AS", "1684", -14.3, -170.0, 8.0, -660, 0),  // American Samoa
    c("AT", "43", 47.3, 13.3, 163.0, 60, 0),       // Austria
    c("AU", "61", -27.0, 133.0, 1564.0, 600, 0),   // Australia
    c("AW", "297", 12.5, -70.0, 8.0, -240, 0),     // Aruba
    c("AX", "35818", 60.2, 20.0, 22.0, 120, 0),    // Åland Islands
    c("AZ", "994", 40.5, 47.5, 166.0, 240, 0),     // Azerbaijan
    c("BA", "387", 44.0, 18.0, 128.0, 60, 1),      // Bosnia and Herzegovina
    c("BB", "1246", 13.2, -59.5, 12.0, -240, 0),   // Barbados
    c("BD", "880", 24.0, 90.0, 214.0, 360, 0),     // Bangladesh
    c("BE", "32", 50.8, 4.0, 99.0, 60, 0),         // Belgium
    c("BF", "226", 13.0, -2.0, 295.0, 0, 1),       // Burkina Faso
    c("BG", "359", 43.0, 25.0, 188.0, 120, 0),     // Bulgaria
    c("BH", "973", 26.0, 50.5, 15.0, 180, 0),      // Bahrain
    c("BI", "257", -3.5, 30.0, 94.0, 120, 0),      // Burundi
    c("BJ", "229", 9.5, 2.2, 189.0, 60, 1),        // Benin
    c("BL", "590", 17.9, -62.8, 3.0, -240, 0),     // Saint Barthélemy
    c("BM", "1441", 32.3, -64.8, 4.0, -240, 0),    // Bermuda
    c("BN", "673", 4.5, 114.7, 43.0, 480, 0),      // Brunei Darussalam
    c("BO", "591", -17.0, -65.0, 591.0, -240, 1),  // Bolivia, Plurinational State of
    c("BQ", "5997", 12.2, -68.3, 10.0, -240, 0),   // Bonaire, Sint Eustatius and Saba
    c("BR", "55", -10.0, -55.0, 1646.0, -180, 0),  // Brazil
    c("BS", "1242", 24.2, -76.0, 67.0, -300, 0),   // Bahamas
    c("BT", "975", 27.5, 90.5, 122.0, 360, 0),     // Bhutan
    c("BV", "47", -54.4, 3.4, 4.0, 0, 0),          // Bouvet Island
    c("BW", "267", -22.0, 24.0, 437.0, 120, 0),    // Botswana
    c("BY", "375", 53.0, 28.0, 257.0, 180, 1),     // Belarus
    c("BZ", "501", 17.2, -88.8, 86.0, -360, 0),    // Belize
    c("CA", "1", 60.0, -95.0, 1783.0, -300, 0),    // Canada
    c("CC", "6189162", -12.5, 96.8, 2.0, 390, 0),  // Cocos (Keeling) Islands
    c("CD", "243", 0.0, 25.0, 864.0, 60, 0),       // Congo, The Democratic Republic of the
    c("CF", "236", 7.0, 21.0, 445.0, 60, 2),       // Central African Republic
    c("CG", "242", -1.0, 15.0, 330.0, 60, 1),      // Congo
    c("CH", "41", 47.0, 8.0, 115.0, 60, 0),        // Switzerland
    c("CI", "225", 8.0, -5.0, 320.0, 0, 0),        // Côte d'Ivoire
    c("CK", "682", -21.2, -159.8, 9.0, -600, 2),   // Cook Islands
    c("CL", "56", -30.0, -71.0, 491.0, -240, 0),   // Chile
    c("CM", "237", 6.0, 12.0, 389.0, 60, 0),       // Cameroon
    c("CN", "86", 35.0, 105.0, 1748.0, 480, 0),    // China
    c("CO", "57", 4.0, -72.0, 602.0, -300, 0),     // Colombia
    c("CR", "506", 10.0, -84.0, 128.0, -360, 0),   // Costa Rica
    c("CU", "53", 21.5, -80.0, 188.0, -300, 2),    // Cuba
    c("CV", "238", 16.0, -24.0, 36.0, -60, 0),     // Cabo Verde
    c("CW", "5999", 12.2, -69.0, 12.0, -240, 0),   // Curaçao
    c("CX", "6189164", -10.5, 105.7, 7.0, 420, 0), // Christmas Island
    c("CY", "357", 35.0, 33.0, 54.0, 120, 0),      // Cyprus
    c("CZ", "420", 49.8, 15.5, 158.0, 60, 0),      // Czechia
    c("DE", "49", 51.0, 9.0, 337.0, 60, 0),        // Germany
    c("DJ", "253", 11.5, 43.0, 86.0, 180, 2),      // Djibouti
    c("DK", "45", 56.0, 10.0, 117.0, 60, 0),       // Denmark
    c("DM", "1767", 15.4, -61.3, 15.0, -240, 0),   // Dominica
    c("DO", "1809", 19.0, -70.7, 125.0, -240, 0),  // Dominican Republic
    c("DZ", "213", 28.0, 3.0, 871.0, 60, 0),       // Algeria
    c("EC", "593", -2.0, -77.5, 300.0, -300, 0),   // Ecuador
    c("EE", "372", 59.0, 26.0, 120.0, 120, 1),     // Estonia
    c("EG", "20", 27.0, 30.0, 565.0, 120, 0),      // Egypt
    c("EH", "212", 24.5, -13.0, 291.0, 60, 0),     // Western Sahara
    c("ER", "291", 15.0, 39.0, 197.0, 180, 2),     // Eritrea
    c("ES", "34", 40.0, -4.0, 401.0, 60, 0),       // Spain
    c("ET", "251", 8.0, 38.0, 599.0, 180, 0),      // Ethiopia
    c("FI", "358", 64.0, 26.0, 328.0, 120, 0),     // Finland
    c("FJ", "679", -18.0, 175.0, 76.0, 720, 0),    // Fiji
    c("FK", "500", -51.8, -59.0, 62.0, -180, 0),   // Falkland Islands (Malvinas)
    c("FM", "691", 6.9, 158.2, 15.0, 600, 2),      // Micronesia, Federated States of
    c("FO", "298", 62.0, -7.0, 21.0, 0, 0),        // Faroe Islands
    c("FR", "33", 46.0, 2.0, 417.0, 60, 0),        // France
    c("GA", "241", -1.0, 11.8, 292.0, 60, 1),      // Gabon
    c("GB", "44", 54.0, -2.0, 279.0, 0, 0),        // United Kingdom
    c("GD", "1473", 12.1, -61.7, 10.0, -240, 0),   // Grenada
    c("GE", "995", 42.0, 43.5, 149.0, 240, 0),     // Georgia
    c("GF", "594", 4.0, -53.0, 170.0, -180, 0),    // French Guiana
    c("GG", "44", 49.5, -2.6, 5.0, 0, 0),          // Guernsey
    c("GH", "233", 8.0, -2.0, 276.0, 0, 0),        // Ghana
    c("GI", "350", 36.1, -5.3, 1.0, 60, 0),        // Gibraltar
    c("GL", "299", 72.0, -40.0, 830.0, -120, 0),   // Greenland
    c("GM", "220", 13.5, -16.6, 60.0, 0, 2),       // Gambia
    c("GN", "224", 11.0, -10.0, 280.0, 0, 2),      // Guinea
    c("GP", "590", 16.2, -61.6, 24.0, -240, 0),    // Guadeloupe
    c("GQ", "240", 2.0, 10.0, 94.0, 60, 2),        // Equatorial Guinea
    c("GR", "30", 39.0, 22.0, 205.0, 120, 0),      // Greece
    c("GS", "500", -54.5, -37.0, 35.0, -120, 0),   // South Georgia and the South Sandwich Islands
    c("GT", "502", 15.5, -90.2, 186.0, -360, 0),   // Guatemala
    c("GU", "1671", 13.5, 144.8, 13.0, 600, 0),    // Guam
    c("GW", "245", 12.0, -15.0, 107.0, 0, 2),      // Guinea-Bissau
    c("GY", "592", 5.0, -59.0, 262.0, -240, 0),    // Guyana
    c("HK", "852", 22.2, 114.2, 19.0, 480, 0),     // Hong Kong
    c("HM", "672", -53.1, 72.5, 11.0, 300, 0),     // Heard Island and McDonald Islands
    c("HN", "504", 15.0, -86.5, 189.0, -360, 0),   // Honduras
    c("HR", "385", 45.2, 15.5, 134.0, 60, 0),      // Croatia
    c("HT", "509", 19.0, -72.4, 94.0, -300, 1),    // Haiti
    c("HU", "36", 47.0, 20.0, 172.0, 60, 0),       // Hungary
    c("ID", "62", -5.0, 120.0, 782.0, 420, 0),     // Indonesia
    c("IE", "353", 53.0, -8.0, 150.0, 0, 0),       // Ireland
    c("IL", "972", 31.5, 34.8, 81.0, 120, 0),      // Israel
    c("IM", "44", 54.2, -4.5, 13.0, 0, 0),         // Isle of Man
    c("IN", "91", 20.0, 77.0, 1023.0, 330, 0),     // India
    c("IO", "246", -6.0, 71.5, 4.0, 360, 2),       // British Indian Ocean Territory
    c("IQ", "964", 33.0, 44.0, 373.0, 180, 0),     // Iraq
    c("IR", "98", 32.0, 53.0, 724.0, 210, 0),      // Iran, Islamic Republic of
    c("IS", "354", 65.0, -18.0, 181.0, 0, 0),      // Iceland
    c("IT", "39", 42.8, 12.8, 310.0, 60, 0),       // Italy
    c("JE", "44", 49.2, -2.2, 6.0, 0, 0),          // Jersey
    c("JM", "1876", 18.0, -76.8, 59.0, -300, 0),   // Jamaica
    c("JO", "962", 31.0, 36.0, 171.0, 180, 0),     // Jordan
    c("JP", "81", 36.0, 138.0, 347.0, 540, 0),     // Japan
    c("KE", "254", 1.0, 38.0, 431.0, 180, 0),      // Kenya
    c("KG", "996", 41.0, 75.0, 251.0, 360, 0),     // Kyrgyzstan
    c("KH", "855", 13.0, 105.0, 240.0, 420, 0),    // Cambodia
    c("KI", "686", 1.4, 173.0, 16.0, 720, 2),      // Kiribati
    c("KM", "269", -12.2, 44.2, 26.0, 180, 2),     // Comoros
    c("KN", "1869", 17.3, -62.8, 9.0, -240, 0),    // Saint Kitts and Nevis
    c("KP", "850", 40.0, 127.0, 196.0, 540, 2),    // Korea, Democratic People's Republic of
    c("KR", "82", 37.0, 127.5, 177.0, 540, 0),     // Korea, Republic of
    c("KW", "965", 29.5, 45.8, 75.0, 180, 0),      // Kuwait
    c("KY", "1345", 19.5, -80.5, 9.0, -300, 0),    // Cayman Islands
    c("KZ", "77", 48.0, 68.0, 930.0, 300, 0),      // Kazakhstan
    c("LA", "856", 18.0, 105.0, 275.0, 420, 0),    // Lao People's Democratic Republic
    c("LB", "961", 33.8, 35.8, 58.0, 120, 0),      // Lebanon
    c("LC", "1758", 13.9, -61.0, 14.0, -240, 0),   // Saint Lucia
    c("LI", "423", 47.3, 9.5, 7.0, 60, 0),         // Liechtenstein
    c("LK", "94", 7.0, 81.0, 145.0, 330, 0),       // Sri Lanka
    c("LR", "231", 6.5, -9.5, 188.0, 0, 2),        // Liberia
    c("LS", "266", -29.5, 28.5, 98.0, 120, 0),     // Lesotho
    c("LT", "370", 56.0, 24.0, 144.0, 120, 1),     // Lithuania
    c("LU", "352", 49.8, 6.2, 29.0, 60, 0),        // Luxembourg
    c("LV", "371", 57.0, 25.0, 143.0, 120, 1),     // Latvia
    c("LY", "218", 25.0, 17.0, 748.0, 120, 1),     // Libya
    c("MA", "212", 32.0, -5.0, 377.0, 60, 0),      // Morocco
    c("MC", "377", 43.7, 7.4, 1.0, 60, 0),         // Monaco
    c("MD", "373", 47.0, 29.0, 104.0, 120, 1),     // Moldova, Republic of
    c("ME", "382", 42.7, 19.4, 67.0, 60, 0),       // Montenegro
    c("MF", "590", 18.1, -63.1, 4.0, -240, 0),     // Saint Martin (French part)
    c("MG", "261", -20.0, 47.0, 432.0, 180, 1),    // Madagascar
    c("MH", "692", 9.0, 168.0, 8.0, 720, 2),       // Marshall Islands
    c("MK", "389", 41.8, 22.0, 90.0, 60, 0),       // North Macedonia
    c("ML", "223", 17.0, -4.0, 628.0, 0, 1),       // Mali
    c("MM", "95", 19.8, 96.1, 465.0, 390, 0),      // Myanmar
    c("MN", "976", 46.0, 105.0, 706.0, 480, 0),    // Mongolia
    c("MO", "853", 22.2, 113.5, 9.0, 480, 0),      // Macao
    c("MP", "1670", 15.2, 145.8, 12.0, 600, 0),    // Northern Mariana Islands
    c("MQ", "596", 14.7, -61.0, 19.0, -240, 0),    // Martinique
    c("MR", "222", 20.0, -12.0, 573.0, 0, 1),      // Mauritania
    c("MS", "1664", 16.8, -62.2, 6.0, -240, 0),    // Montserrat
    c("MT", "356", 35.8, 14.6, 10.0, 60, 0),       // Malta
    c("MU", "230", -20.3, 57.5, 25.0, 240, 0),     // Mauritius
    c("MV", "960", 3.2, 73.0, 10.0, 300, 1),       // Maldives
    c("MW", "265", -13.5, 34.0, 194.0, 120, 0),    // Malawi
    c("MX", "52", 23.0, -102.0, 792.0, -360, 0),   // Mexico
    c("MY", "60", 2.5, 112.5, 324.0, 480, 0),      // Malaysia
    c("MZ", "258", -18.2, 35.0, 505.0, 120, 0),    // Mozambique
    c("NA", "264", -22.0, 17.0, 513.0, 120, 0),    // Namibia
    c("NC", "687", -21.5, 165.5, 78.0, 660, 0),    // New Caledonia
    c("NE", "227", 16.0, 8.0, 635.0, 60, 1),       // Niger
    c("NF", "672", -29.0, 167.9, 3.0, 660, 1),     // Norfolk Island
    c("NG", "234", 10.0, 8.0, 542.0, 60, 0),       // Nigeria
    c("NI", "505", 13.0, -85.0, 203.0, -360, 0),   // Nicaragua
    c("NL", "31", 52.5, 5.8, 115.0, 60, 0),        // Netherlands
    c("NO", "47", 62.0, 10.0, 321.0, 60, 0),       // Norway
    c("NP", "977", 28.0, 84.0, 212.0, 345, 0),     // Nepal
    c("NR", "674", -0.5, 166.9, 3.0, 720, 2),      // Nauru
    c("NU", "683", -19.0, -169.9, 9.0, -660, 2),   // Niue
    c("NZ", "64", -41.0, 174.0, 292.0, 720, 0),    // New Zealand
    c("OM", "968", 21.0, 57.0, 260.0, 240, 0),     // Oman
    c("PA", "507", 9.0, -80.0, 158.0, -300, 0),    // Panama
    c("PE", "51", -10.0, -76.0, 640.0, -300, 0),   // Peru
    c("PF", "689", -15.0, -140.0, 36.0, -600, 0),  // French Polynesia
    c("PG", "675", -6.0, 147.0, 384.0, 600, 2),    // Papua New Guinea
    c("PH", "63", 13.0, 122.0, 309.0, 480, 0),     // Philippines
    c("PK", "92", 30.0, 70.0, 506.0, 300, 0),      // Pakistan
    c("PL", "48", 52.0, 20.0, 315.0, 60, 0),       // Poland
    c("PM", "508", 46.8, -56.3, 9.0, -180, 0),     // Saint Pierre and Miquelon
    c("PN", "64", -25.1, -130.1, 4.0, -480, 0),    // Pitcairn
    c("PR", "1787", 18.2, -66.5, 54.0, -240, 0),   // Puerto Rico
    c("PS", "970", 31.9, 35.2, 44.0, 120, 0),      // Palestine, State of
    c("PT", "351", 39.5, -8.0, 171.0, 0, 0),       // Portugal
    c("PW", "680", 7.5, 134.5, 12.0, 540, 1),      // Palau
    c("PY", "595", -23.0, -58.0, 360.0, -180, 0),  // Paraguay
    c("QA", "974", 25.5, 51.2, 60.0, 180, 0),      // Qatar
    c("RE", "262", -21.1, 55.5, 28.0, 240, 0),     // Réunion
    c("RO", "40", 46.0, 25.0, 275.0, 120, 0),      // Romania
    c("RS", "381", 44.0, 21.0, 168.0, 60, 0),      // Serbia
    c("RU", "7", 60.0, 100.0, 2333.0, 180, 0),     // Russian Federation
    c("RW", "250", -2.0, 30.0, 92.0, 120, 0),      // Rwanda
    c("SA", "966", 25.0, 45.0, 790.0, 180, 0),     // Saudi Arabia
    c("SB", "677", -8.0, 159.0, 95.0, 660, 2),     // Solomon Islands
    c("SC", "248", -4.6, 55.7, 12.0, 240, 0),      // Seychelles
    c("SD", "249", 15.0, 30.0, 770.0, 120, 1),     // Sudan
    c("SE", "46", 62.0, 15.0, 378.0, 60, 0),       // Sweden
    c("SG", "65", 1.4, 103.8, 15.0, 480, 0),       // Singapore
    c("SH", "290", -15.9, -5.7, 11.0, 0, 1),       // Saint Helena, Ascension and Tristan da Cunha
    c("SI", "386", 46.1, 14.8, 80.0, 60, 0),       // Slovenia
    c("SJ", "4779", 78.0, 20.0, 141.0, 60, 0),     // Svalbard and Jan Mayen
    c("SK", "421", 48.7, 19.5, 125.0, 60, 0),      // Slovakia
    c("SL", "232", 8.5, -11.5, 151.0, 0, 2),       // Sierra Leone
    c("SM", "378", 43.8, 12.4, 4.0, 60, 0),        // San Marino
    c("SN", "221", 14.0, -14.0, 250.0, 0, 1),      // Senegal
    c("SO", "252", 10.0, 49.0, 451.0, 180, 2),     // Somalia
    c("SR", "597", 4.0, -56.0, 228.0, -180, 0),    // Suriname
    c("SS", "211", 7.0, 30.0, 453.0, 120, 1),      // South Sudan
    c("ST", "239", 1.0, 7.0, 18.0, 0, 2),          // Sao Tome and Principe
    c("SV", "503", 13.8, -88.9, 82.0, -360, 0),    // El Salvador
    c("SX", "1721", 18.0, -63.1, 3.0, -240, 0),    // Sint Maarten (Dutch part)
    c("SY", "963", 35.0, 38.0, 243.0, 180, 1),     // Syrian Arab Republic
    c("SZ", "268", -26.5, 31.5, 74.0, 120, 0),     // Eswatini
    c("TC", "1649", 21.8, -71.6, 12.0, -300, 0),   // Turks and Caicos Islands
    c("TD", "235", 15.0, 19.0, 639.0, 60, 2),      // Chad
    c("TF", "262", -49.2, 69.2, 50.0, 300, 0),     // French Southern Territories
    c("TG", "228", 8.0, 1.2, 134.0, 0, 1),         // Togo
    c("TH", "66", 15.0, 100.0, 404.0, 420, 0),     // Thailand
    c("TJ", "992", 39.0, 71.0, 213.0, 300, 0),     // Tajikistan
    c("TK", "690", -9.0, -172.0, 2.0, 780, 2),     // Tokelau
    c("TL", "670", -8.8, 125.9, 69.0, 540, 0),     // Timor-Leste
    c("TM", "993", 40.0, 60.0, 394.0, 300, 0),     // Turkmenistan
    c("TN", "216", 34.0, 9.0, 228.0, 60, 1),       // Tunisia
    c("TO", "676", -20.0, -175.0, 15.0, 780, 2),   // Tonga
    c("TR", "90", 39.0, 35.0, 498.0, 180, 0),      // Türkiye
    c("TT", "1868", 11.0, -61.0, 40.0, -240, 0),   // Trinidad and Tobago
    c("TV", "688", -8.0, 178.0, 3.0, 720, 2),      // Tuvalu
    c("TW", "886", 23.5, 121.0, 107.0, 480, 0),    // Taiwan, Province of China
    c("TZ", "255", -6.0, 35.0, 548.0, 180, 0),     // Tanzania, United Republic of
    c("UA", "380", 49.0, 32.0, 438.0, 120, 0),     // Ukraine
    c("UG", "256", 1.0, 32.0, 274.0, 180, 0),      // Uganda
    c("UM", "1", 19.3, 166.6, 3.0, 720, 0),        // United States Minor Outlying Islands
    c("US", "1", 38.0, -97.0, 1751.0, -300, 0),    // United States
    c("UY", "598", -33.0, -56.0, 237.0, -180, 0),  // Uruguay
    c("UZ", "998", 41.0, 64.0, 377.0, 300, 0),     // Uzbekistan
    c("VA", "39", 41.9, 12.5, 1.0, 60, 0),         // Holy See (Vatican City State)
    c("VC", "1784", 13.2, -61.2, 11.0, -240, 0),   // Saint Vincent and the Grenadines
    c("VE", "58", 8.0, -66.0, 539.0, -240, 0),     // Venezuela, Bolivarian Republic of
    c("VG", "1284", 18.4, -64.6, 7.0, -240, 0),    // Virgin Islands, British
    c("VI", "1340", 18.3, -64.9, 11.0, -240, 0),   // Virgin Islands, U.S.
    c("VN", "84", 16.2, 107.8, 324.0, 420, 0),     // Viet Nam
    c("VU", "678", -16.0, 167.0, 62.0, 660, 2),    // Vanuatu
    c("WF", "681", -13.3, -176.2, 9.0, 720, 2),    // Wallis and Futuna
    c("WS", "685", -13.6, -172.3, 31.0, 780, 1),   // Samoa
    c("YE", "967", 15.0, 48.0, 410.0, 180, 1),     // Yemen
    c("YT", "262269", -12.8, 45.2, 11.0, 180, 0),  // Mayotte
    c("ZA", "27", -29.0, 24.0, 623.0, 120, 0),     // South Africa
    c("ZM", "260", -15.0, 30.0, 489.0, 120, 0),    // Zambia
    c("ZW", "263", -20.0, 30.0, 353.0, 120, 1),    // Zimbabwe
];

const fn cc(code: &'static str) -> CountryCode {
    CountryCode::from_static(code)
}

/// The country a bare shared calling code resolves to (e.g. `"1"` → US, `"7"` → RU, `"44"` → GB),
/// for codes used by more than one entry of [`COUNTRIES`] or whose members carry longer
/// prefixes there (`"599"`: Curaçao is `"5999"`, Caribbean Netherlands `"5997"`; `"358"`: Åland is
/// `"35818"`). Longer, more specific prefixes (`"1876"`, `"77"`) still win over these.
pub static MAIN_DIAL_CODE_OWNERS: &[(&str, CountryCode)] = &[
    ("1", cc("US")),
    ("7", cc("RU")),
    ("39", cc("IT")),
    ("44", cc("GB")),
    ("47", cc("NO")),
    ("61", cc("AU")),
    ("64", cc("NZ")),
    ("212", cc("MA")),
    ("262", cc("RE")),
    ("358", cc("FI")),
    ("500", cc("FK")),
    ("590", cc("GP")),
    ("599", cc("CW")),
    ("672", cc("NF")),
];

/// Calling-code prefixes that belong to a country but are not its `dial_code`: NANP overlay area
/// codes, the other Caribbean Netherlands islands, and the national ranges of territories
/// inside a bigger country's code (some longer than four digits).
pub static EXTRA_DIAL_PREFIXES: &[(&str, CountryCode)] = &[
    ("1658", cc("JM")),    // Jamaica overlay of 876
    ("1829", cc("DO")),    // Dominican Republic overlay of 809
    ("1849", cc("DO")),    // Dominican Republic overlay of 809
    ("1939", cc("PR")),    // Puerto Rico overlay of 787
    ("5993", cc("BQ")),    // Sint Eustatius
    ("5994", cc("BQ")),    // Saba
    ("262639", cc("YT")),  // Mayotte mobile
    ("441481", cc("GG")),  // Guernsey fixed (01481)
    ("441534", cc("JE")),  // Jersey fixed (01534)
    ("441624", cc("IM")),  // Isle of Man fixed (01624)
    ("3906698", cc("VA")), // Vatican City inside the Rome (06) area
];

const fn premium(prefix: &'static str, note: &'static str) -> DestinationRange {
    DestinationRange { prefix, kind: RangeKind::PremiumRate, note }
}
const fn satellite(prefix: &'static str, note: &'static str) -> DestinationRange {
    DestinationRange { prefix, kind: RangeKind::Satellite, note }
}
const fn hot(prefix: &'static str, note: &'static str) -> DestinationRange {
    DestinationRange { prefix, kind: RangeKind::HotRange, note }
}

/// Premium-rate, satellite and IRSF "hot" destination ranges (E.164 prefixes, longest match
/// wins).
///
/// This is an illustrative starter table assembled from public numbering plans (ITU-T E.164
/// assignments and national regulators' plans for premium-rate ranges) and from public industry
/// IRSF / Wangiri reporting. It is deliberately small: operators should replace or extend it
/// from their own hot-range feeds (e.g. GSMA or CFCA hot-number lists, carrier test-call and
/// fraud-management data), which change week to week. Precision is at range level: a
/// whole-country entry such as `"252"` marks every number of that country, not a specific
/// reported number block.
pub static DESTINATION_RANGES: &[DestinationRange] = &[
    // Satellite and international networks (ITU shared codes).
    satellite("870", "Inmarsat (SNAC)"),
    satellite("881", "Global Mobile Satellite System (GMSS)"),
    satellite("8816", "Iridium"),
    satellite("8817", "Iridium"),
    satellite("882", "International Networks (shared code)"),
    satellite("88216", "Thuraya"),
    satellite("883", "International Networks (shared code)"),
    premium("979", "International Premium Rate Service (IPRS)"),
    // National premium-rate and revenue-share ranges.
    premium("1900", "United States: 1-900 premium rate"),
    premium("31900", "Netherlands: 0900 premium rate"),
    premium("31906", "Netherlands: 0906 premium rate (adult)"),
    premium("31909", "Netherlands: 0909 premium rate (entertainment)"),
    premium("32900", "Belgium: 0900 premium rate"),
    premium("32902", "Belgium: 0902 premium rate"),
    premium("32903", "Belgium: 0903 premium rate"),
    premium("32904", "Belgium: 0904 premium rate"),
    premium("32905", "Belgium: 0905 premium rate"),
    premium("3389", "France: 089x premium rate"),
    premium("34803", "Spain: 803 premium rate (adult)"),
    premium("34806", "Spain: 806 premium rate (entertainment)"),
    premium("34807", "Spain: 807 premium rate (professional services)"),
    premium("34905", "Spain: 905 mass calling / televoting"),
    premium("358700", "Finland: 0700 premium rate"),
    premium("370900", "Lithuania: 900 premium rate"),
    premium("37190", "Latvia: 90x premium rate"),
    premium("372900", "Estonia: 900 premium rate"),
    premium("39892", "Italy: 892 information services (premium)"),
    premium("39895", "Italy: 895 premium rate"),
    premium("39899", "Italy: 899 premium rate"),
    premium("41900", "Switzerland: 0900 premium rate"),
    premium("41901", "Switzerland: 0901 premium rate"),
    premium("41906", "Switzerland: 0906 premium rate (adult)"),
    premium("43900", "Austria: 0900 premium rate"),
    premium("43930", "Austria: 0930 premium rate (entertainment)"),
    premium("43931", "Austria: 0931 premium rate"),
    premium("4470", "United Kingdom: 070 personal numbers (frequently abused)"),
    premium("4487", "United Kingdom: 087 revenue-sharing service numbers"),
    premium("449", "United Kingdom: 09 premium rate"),
    premium("4590", "Denmark: 90 premium rate"),
    premium("48700", "Poland: 700 premium rate"),
    premium("49137", "Germany: 0137 mass calling / televoting"),
    premium("49900", "Germany: 0900 premium rate"),
    premium("61190", "Australia: 190x premium rate"),
    // Whole-country or range-level IRSF / Wangiri hot destinations.
    hot("1268", "Antigua and Barbuda: one-ring (Wangiri) callbacks"),
    hot("1284", "British Virgin Islands: one-ring (Wangiri) callbacks"),
    hot("1473", "Grenada: one-ring (Wangiri) callbacks"),
    hot("1649", "Turks and Caicos: one-ring (Wangiri) callbacks"),
    hot("1664", "Montserrat: one-ring (Wangiri) callbacks"),
    hot("1767", "Dominica: one-ring (Wangiri) callbacks"),
    hot("1809", "Dominican Republic: one-ring (Wangiri) callbacks"),
    hot("1876", "Jamaica: one-ring (Wangiri) callbacks"),
    hot("220", "Gambia: IRSF termination"),
    hot("224", "Guinea: IRSF termination"),
    hot("231", "Liberia: IRSF termination"),
    hot("232", "Sierra Leone: IRSF termination"),
    hot("235", "Chad: IRSF termination"),
    hot("239", "Sao Tome and Principe: IRSF termination"),
    hot("245", "Guinea-Bissau: IRSF termination"),
    hot("246", "Diego Garcia (British Indian Ocean Territory): IRSF termination"),
    hot("252", "Somalia: IRSF termination"),
    hot("253", "Djibouti: IRSF termination"),
    hot("269", "Comoros: IRSF / Wangiri termination"),
    hot("291", "Eritrea: IRSF termination"),
    hot("53", "Cuba: high termination rates, IRSF termination"),
    hot("674", "Nauru: IRSF termination"),
    hot("675", "Papua New Guinea: IRSF termination"),
    hot("677", "Solomon Islands: IRSF termination"),
    hot("682", "Cook Islands: IRSF termination"),
    hot("683", "Niue: IRSF termination"),
    hot("688", "Tuvalu: IRSF termination"),
    hot("690", "Tokelau: IRSF termination"),
    hot("850", "North Korea: very high termination rates"),
];
