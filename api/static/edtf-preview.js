/* The date preview of the event forms: as a date is typed, it reads back as the pages will
   print it ("c. 2019", "by Feb 2018"), or says why the service will refuse it.

   `readDate` mirrors events/dates.py (which forms the contract accepts, and EDTFDate.display):
   tests/unit/test_edtf_preview.py runs both over the same examples and holds them equal.
   The server checks every date again; this only spares a round trip. */
(function (root) {
  "use strict";

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var SEASONS = { 21: "spring", 22: "summer", 23: "autumn", 24: "winter" };
  var SIDE = /^([0-9]{4}|[0-9]{3}X|[0-9]{2}XX)(?:-([0-9]{2}|XX)(?:-([0-9]{2}|XX))?)?([?~%])?$/;

  function Refused(reason) {
    this.reason = reason;
  }

  function pad(number, width) {
    var text = String(number);
    while (text.length < width) text = "0" + text;
    return text;
  }

  function daysIn(year, month) {
    var leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  }

  function day(year, month, dayOfMonth) {
    return year * 10000 + month * 100 + dayOfMonth;
  }

  function side(text) {
    var match = SIDE.exec(text);
    if (match === null) throw new Refused("is not a date of a form the service accepts");
    var yearText = match[1], monthText = match[2], dayText = match[3], qualifier = match[4] || "";
    if (yearText.indexOf("X") >= 0 && monthText !== undefined) {
      throw new Refused("has unspecified digits in its year and a month after them");
    }
    if (monthText === "XX" && dayText !== undefined && dayText !== "XX") {
      throw new Refused("has an unspecified month before a day");
    }
    var month = monthText !== undefined && monthText !== "XX" ? parseInt(monthText, 10) : null;
    if (month !== null && month >= 21 && month <= 24 && dayText !== undefined) {
      throw new Refused("is a season with a day: a season is YYYY-21 to YYYY-24 alone");
    }
    if (month !== null && !((month >= 1 && month <= 12) || (month >= 21 && month <= 24))) {
      throw new Refused("has no month " + pad(month, 2) + ": months run from 01 to 12, seasons 21 to 24");
    }
    if (yearText.indexOf("X") < 0 && parseInt(yearText, 10) === 0) {
      throw new Refused("has the year 0000: years run from 0001 to 9999");
    }
    if (month !== null && month <= 12 && dayText !== undefined && dayText !== "XX") {
      var days = daysIn(parseInt(yearText, 10), month);
      var given = parseInt(dayText, 10);
      if (given < 1 || given > days) {
        throw new Refused("is not a real date: " + MONTHS[month - 1] + " " + parseInt(yearText, 10) + " has " + days + " days");
      }
    }
    if (month !== null && month >= 21) return season(parseInt(yearText, 10), month, qualifier);
    return calendarSide(yearText, month, dayText, qualifier);
  }

  function season(year, which, qualifier) {
    var first, last;
    if (which === 24) {
      if (year === 9999) throw new Refused("is a winter that runs past the year 9999");
      first = day(year, 12, 1);
      last = day(year + 1, 2, daysIn(year + 1, 2));
    } else {
      var start = 3 * (which - 21) + 3;
      first = day(year, start, 1);
      last = day(year, start + 2, daysIn(year, start + 2));
    }
    return { first: first, last: last, precision: "season", qualifier: qualifier, year: year, season: which };
  }

  function calendarSide(yearText, month, dayText, qualifier) {
    if (yearText.charAt(3) === "X") {
      var low = parseInt(yearText.replace(/X/g, "0"), 10), high = parseInt(yearText.replace(/X/g, "9"), 10);
      return {
        first: day(Math.max(low, 1), 1, 1), last: day(high, 12, 31), qualifier: qualifier, year: low,
        precision: yearText.charAt(2) === "X" ? "century" : "decade"
      };
    }
    var year = parseInt(yearText, 10);
    if (month === null) {
      return { first: day(year, 1, 1), last: day(year, 12, 31), precision: "year", qualifier: qualifier, year: year };
    }
    if (dayText === undefined || dayText === "XX") {
      return {
        first: day(year, month, 1), last: day(year, month, daysIn(year, month)),
        precision: "month", qualifier: qualifier, year: year, month: month
      };
    }
    var when = day(year, month, parseInt(dayText, 10));
    return {
      first: when, last: when, precision: "day", qualifier: qualifier, year: year, month: month,
      day: parseInt(dayText, 10)
    };
  }

  function showSide(s) {
    var year = pad(s.year, 4), text;
    if (s.precision === "day") {
      text = s.day + " " + MONTHS[s.month - 1] + " " + year;
    } else if (s.precision === "month") {
      text = MONTHS[s.month - 1] + " " + year;
    } else if (s.precision === "season") {
      text = SEASONS[s.season] + " " + year;
      if (s.season === 24) {
        var following = s.year + 1;
        var sameCentury = Math.floor(following / 100) === Math.floor(s.year / 100);
        text += "-" + (sameCentury ? pad(following % 100, 2) : pad(following, 4));
      }
    } else if (s.precision === "decade" || s.precision === "century") {
      text = year + "s";
    } else {
      text = year;
    }
    if (s.qualifier === "~" || s.qualifier === "%") text = "c. " + text;
    if (s.qualifier === "?" || s.qualifier === "%") text = text + "?";
    return text;
  }

  function parse(text) {
    if (text.indexOf("/") < 0) return showSide(side(text));
    var parts = text.split("/");
    if (parts.length > 2) throw new Refused("has more than two sides");
    var open = function (part) { return part === ".." || part === ""; };
    if (open(parts[0]) && open(parts[1])) {
      throw new Refused("has no date on either side: at least one end must be a date");
    }
    var start = open(parts[0]) ? null : side(parts[0]);
    var end = open(parts[1]) ? null : side(parts[1]);
    if (start !== null && end !== null && start.first > end.last) throw new Refused("starts after it ends");
    if (start === null) return "by " + showSide(end);
    if (end === null) return showSide(start) + " or later";
    return "between " + showSide(start) + " and " + showSide(end);
  }

  /* {ok: true, display: "c. 2019"} or {ok: false, reason: "is not a real date: …"}. */
  function readDate(text) {
    try {
      return { ok: true, display: parse(text) };
    } catch (error) {
      if (error instanceof Refused) return { ok: false, reason: error.reason };
      throw error;
    }
  }

  function attach(input) {
    var preview = document.getElementById(input.getAttribute("data-edtf-preview"));
    var serverSaid = input.getAttribute("aria-invalid") === "true";
    function update() {
      var text = input.value.trim();
      if (text === "") {
        preview.textContent = "";
        if (!serverSaid) input.removeAttribute("aria-invalid");
        return;
      }
      var read = readDate(text);
      preview.textContent = read.ok ? "Reads as: " + read.display : "Not a date the service accepts: '" + text + "' " + read.reason;
      preview.classList.toggle("refused", !read.ok);
      serverSaid = false;
      if (read.ok) input.removeAttribute("aria-invalid");
      else input.setAttribute("aria-invalid", "true");
    }
    input.addEventListener("input", update);
  }

  if (typeof module !== "undefined" && module.exports) {
    module.exports = { readDate: readDate };
  } else {
    root.readDate = readDate;
    var inputs = root.document.querySelectorAll("input[data-edtf-preview]");
    for (var i = 0; i < inputs.length; i += 1) attach(inputs[i]);
    var problems = root.document.getElementById("problems");
    if (problems) problems.focus();
  }
})(this);
