// The timeline page follows its organisation's live stream (progressive enhancement: the
// page is whole without this script). When an event of the organisation is recorded, the
// page's events are fetched again as the server renders them (every text escaped there),
// put in place of the ones shown, and a notice links to the new event.
(function () {
  "use strict";
  var events = document.querySelector("section.events[data-stream]");
  if (!events || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var notice = document.createElement("p");
  notice.className = "live-notice";
  notice.setAttribute("role", "status");
  notice.setAttribute("aria-live", "polite");
  notice.hidden = true;
  events.parentNode.insertBefore(notice, events);

  var pending = Promise.resolve();

  function replaceSection(fresh, selector) {
    var now = document.querySelector(selector);
    var next = fresh.querySelector(selector);
    if (now && next) {
      now.replaceWith(document.importNode(next, true));
    } else if (next && !now) {
      document.querySelector("section.events").after(document.importNode(next, true));
    }
  }

  function announce(recorded, shown) {
    notice.textContent = "";
    var text = shown ? "A new event was just recorded: " : "A new event was just recorded (not shown by these filters): ";
    notice.appendChild(document.createTextNode(text));
    var link = document.createElement("a");
    link.href = "#event-" + recorded.id;
    var what = shown && shown.querySelector(".what");
    link.textContent = what ? what.textContent.trim() : recorded.type;
    notice.appendChild(link);
    notice.hidden = false;
  }

  function refresh(recorded) {
    return fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("the timeline answered " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        replaceSection(fresh, "section.events");
        replaceSection(fresh, "section.amendments");
        var shown = document.getElementById("event-" + recorded.id);
        if (shown) {
          shown.classList.add("just-recorded");
        }
        announce(recorded, shown);
      });
  }

  var source = new EventSource(events.getAttribute("data-stream"));
  source.addEventListener("recorded", function (message) {
    var recorded = JSON.parse(message.data);
    pending = pending.then(function () { return refresh(recorded); }).catch(function () {
      notice.textContent = "A new event was recorded; reload the page to see it.";
      notice.hidden = false;
    });
  });
})();
