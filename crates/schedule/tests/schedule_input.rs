//! Free-form schedule input never panics: iCalendar holiday files (any lines, BOMs, folds,
//! multi-byte text where digits belong) and the `HH:MM` / `YYYY-MM-DD` parsers. A file is
//! read or refused at a line inside it; a value parses or is `None`.

use proptest::prelude::*;
use schedule::{ics_dates, parse_date, parse_time, parse_weekday};

/// Lines an iCalendar holiday file is made of, valid and broken, for the generator.
fn ics_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("BEGIN:VCALENDAR".to_owned()),
        Just("END:VCALENDAR".to_owned()),
        Just("BEGIN:VEVENT".to_owned()),
        Just("END:VEVENT".to_owned()),
        Just("STATUS:CANCELLED".to_owned()),
        Just("RRULE:FREQ=YEARLY".to_owned()),
        "DTSTART(;VALUE=DATE)?:[0-9€T Z]{0,17}",
        "DTEND(;VALUE=DATE)?:[0-9€TZ]{0,17}",
        "DURATION:[-+]?P[0-9€]{0,4}[DWY€]?(T[0-9]{0,2}[HMS€]?)?",
        "[ \t][ -~€é]{0,20}",
        "[A-Z;=]{0,12}:[ -~€]{0,20}",
        "\u{feff}?[ -~]{0,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn an_ics_file_is_read_or_refused_at_one_of_its_lines(
        lines in proptest::collection::vec(ics_line(), 0..24),
        crlf in any::<bool>(),
    ) {
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        match ics_dates(&text) {
            Ok(dates) => prop_assert!(dates.len() <= 24 * 367),
            Err(e) => prop_assert!(e.line >= 1 && e.line <= lines.len().max(1), "{e:?}"),
        }
    }

    #[test]
    fn times_dates_and_days_parse_or_are_none(text in "[0-9:€\\-a-z ]{0,12}") {
        let _ = parse_time(&text);
        let _ = parse_date(&text);
        let _ = parse_weekday(&text);
    }
}
