// The caller's consent to the satisfaction survey: one SMS after the incident is resolved, "reply
// 1-5" ([survey], POST /api/v1/incidents/{ref}/survey). Shown only when a survey is configured and
// the incident has a caller number; the consent is the caller's, asked on the call.

import { enc } from "./api.js";
import { h, swap } from "./util.js";

const STATE_TEXT = {
  consented: "The survey goes out when the incident is resolved.",
  sent: "Survey sent; waiting for the caller's reply.",
  answered: "The caller answered",
  expired: "The caller did not reply in time.",
  withdrawn: "Consent withdrawn; no survey will be sent.",
};

export function createSurvey(ctx, container, { canWrite, say, reload }) {
  let seq = 0;

  async function look(detail) {
    const mine = ++seq;
    const el = container();
    if (!el || !detail || !detail.caller_number) {
      if (el) swap(el);
      return;
    }
    let survey;
    try {
      survey = await ctx.api.get(`/api/v1/incidents/${enc(detail.reference)}/survey`);
    } catch {
      return;
    }
    if (mine !== seq || container() !== el) return;
    if (!survey.enabled) return swap(el);
    const open = !["closed", "cancelled"].includes(detail.state) && (!survey.state || ["consented", "withdrawn"].includes(survey.state));
    const box = h("input", {
      type: "checkbox",
      id: "survey-consent",
      "data-key": "survey-consent",
      disabled: !canWrite() || !open,
      onchange: () => consent(detail.reference, box.checked),
    });
    box.checked = Boolean(survey.consent && survey.state);
    const status = survey.state
      ? `${STATE_TEXT[survey.state] || survey.state}${survey.state === "answered" ? `: ${survey.score}/5.` : ""}`
      : "Ask the caller before they hang up.";
    swap(el, h("section", { class: "card survey", "aria-labelledby": "survey-title" },
      h("h3", { id: "survey-title" }, "Satisfaction survey"),
      h("p", {}, box, " ", h("label", { for: "survey-consent" }, "The caller agrees to one SMS after the incident (reply 1-5)")),
      h("p", { class: "muted small", id: "survey-state" }, status)));
  }

  async function consent(ref, yes) {
    try {
      await ctx.api.post(`/api/v1/incidents/${enc(ref)}/survey`, { consent: yes });
      say(yes ? `Survey consent recorded for ${ref}.` : `Survey consent withdrawn for ${ref}.`);
    } catch (err) {
      say(err.message || String(err), "error");
    }
    await reload();
  }

  return { look };
}
