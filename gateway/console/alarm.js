// The escalation cue's optional sound: a soft two-tone chime through WebAudio, repeated while an
// incident is past its ack deadline and nobody has silenced it. The visual cue never goes away by
// silencing; only acting on the incident (an acknowledgement, a resolve) ends it.

const REPEAT_MS = 8000;

export function createAlarm({ onChange } = {}) {
  let audio = null;
  let enabled = false;
  let active = [];
  const silenced = new Set();
  let timer = null;

  function chime() {
    if (!audio) return;
    const now = audio.currentTime;
    for (const [i, freq] of [660, 880].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      const at = now + i * 0.22;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.18, at + 0.03);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.5);
      osc.connect(gain).connect(audio.destination);
      osc.start(at);
      osc.stop(at + 0.55);
    }
  }

  /** One rising three-note ring for an incoming call (only when sound is on). */
  function ring() {
    if (!audio || !enabled) return;
    const now = audio.currentTime;
    for (const [i, freq] of [523, 659, 784].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      const at = now + i * 0.15;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.12, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start(at);
      osc.stop(at + 0.35);
    }
  }

  function ringing() {
    return active.filter((ref) => !silenced.has(ref));
  }

  function schedule() {
    const should = enabled && ringing().length > 0;
    if (should && !timer) {
      chime();
      timer = setInterval(() => (ringing().length ? chime() : null), REPEAT_MS);
    } else if (!should && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  return {
    /** Called from a click (browsers only allow audio after a user gesture). */
    setEnabled(on) {
      enabled = on;
      if (on && !audio && window.AudioContext) audio = new AudioContext();
      if (audio && audio.state === "suspended") audio.resume();
      schedule();
      if (onChange) onChange();
    },
    get enabled() {
      return enabled;
    },
    update(refs) {
      active = refs;
      for (const ref of [...silenced]) if (!refs.includes(ref)) silenced.delete(ref);
      schedule();
    },
    silence() {
      for (const ref of active) silenced.add(ref);
      schedule();
      return active.length;
    },
    ringing,
    ring,
  };
}
