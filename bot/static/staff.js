// The staff console (bot/staff/): sign-in steps, conversations, search, accounts, audit.
// Every value from the server is put on the page as text (textContent), never as HTML.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 4000;
  const MAX = 1000;
  const WHO = { resident: "住民", bot: "ボット", staff: "担当者" };
  const CHANNEL = { sms: "SMS", rcs: "+メッセージ" };
  const OPENED = { handoff: "担当者対応", message: "伝言", lookup: "電話対応", notice: "お知らせの回答" };
  const STATUS = { failed: "送信できませんでした", undelivered: "届きませんでした" };
  // The menu. Each entry shows only to roles with its permission. The notices screens
  // (お知らせ配信: compose, approve, report) are in notices.js, through `window.staffConsole`.
  const NAV = [
    { id: "conversations", label: "会話", permission: "conversations" },
    { id: "search", label: "住民を探す", permission: "conversations" },
    { id: "notices", label: "お知らせ配信", permission: "notices.report" },
    { id: "accounts", label: "職員アカウント", permission: "accounts" },
    { id: "audit", label: "監査ログ", permission: "audit" },
    { id: "settings", label: "アカウント設定", permission: null },
  ];
  const VIEWS = ["login", "setup", "totp", "password", "enrol", "conversations", "search",
                 "notices", "notice-edit", "notice", "accounts", "audit", "settings", "forbidden"];

  const state = { csrf: "", account: null, stage: null, cases: [], selected: null,
                  detail: null, newest: null, colleagues: [], timer: null, busy: false,
                  auditBefore: null, labels: {} };

  // ---- basics ------------------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function setStatus(text, error) {
    $("status").textContent = text || "";
    $("status").classList.toggle("error", !!error);
  }

  // "2026-03-02T10:05:00+09:00" → "3/2 10:05" (the server sends Japan time).
  function jst(iso, withYear, withSeconds) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/.exec(iso || "");
    if (!m) return "";
    const day = `${+m[2]}/${+m[3]} ${m[4]}:${m[5]}` + (withSeconds ? `:${m[6]}` : "");
    return withYear ? `${m[1]}/${day}` : day;
  }

  // {"factor": "totp", "next": "ready"} → "factor: totp、next: ready"
  function details(detail) {
    return Object.entries(detail).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("、");
  }

  async function api(method, path, body) {
    const options = { method, headers: {}, credentials: "same-origin", cache: "no-store" };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRF-Token"] = state.csrf;
      options.body = JSON.stringify(body || {});
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      setStatus("サーバーに接続できません。しばらくしてからお試しください。", true);
      throw error;
    }
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    if (response.status === 401 && !path.startsWith("/staff/api/session")) {
      signedOut(data.message);
      throw new Error("signed out");
    }
    return { status: response.status, ok: response.ok, data };
  }

  function may(permission) {
    return !permission || (state.account && state.account.permissions.includes(permission));
  }

  function show(view) {
    for (const name of VIEWS) $("view-" + name).hidden = name !== view;
    for (const link of $("nav").querySelectorAll("a")) {
      if (link.dataset.view === view) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    document.body.classList.toggle("show-detail", view === "conversations" && !!state.selected);
  }

  // ---- signing in --------------------------------------------------------------------------

  function signedOut(message) {
    state.account = null; state.csrf = ""; state.selected = null;
    clearInterval(state.timer); state.timer = null;
    $("nav").hidden = true; $("who").hidden = true; $("logout").hidden = true;
    $("login-error").textContent = message || "";
    setStatus("");
    show("login");
    $("login-name").focus();
  }

  function enter(body) {
    state.csrf = body.csrf; state.account = body.account; state.stage = body.stage;
    if (body.stage === "totp") { show("totp"); $("totp-code").value = ""; $("totp-code").focus(); return; }
    if (body.stage === "change_password") { openPassword(true); return; }
    if (body.stage === "enrol_totp") { openEnrol(true); return; }
    buildNav();
    $("who").textContent = `${body.account.name}（${body.account.role_label}）`;
    $("who").hidden = false; $("logout").hidden = false;
    if (!state.timer) state.timer = setInterval(refresh, REFRESH_MS);
    route();
    loadColleagues(); loadCanned();
  }

  function buildNav() {
    const nav = $("nav");
    nav.replaceChildren();
    for (const item of NAV) {
      if (!may(item.permission)) continue;
      nav.append(el("a", { href: "#" + item.id, "data-view": item.id, text: item.label }));
    }
    nav.hidden = false;
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    const { ok, data } = await api("POST", "/staff/api/session",
      { name: $("login-name").value.trim(), password: $("login-password").value });
    $("login-password").value = "";
    if (!ok) { $("login-error").textContent = data.message || "ログインできませんでした。"; return; }
    enter(data);
  });

  $("totp-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { ok, data } = await api("POST", "/staff/api/session/totp", { code: $("totp-code").value });
    $("totp-code").value = "";
    if (!ok) {
      if (data.stage === undefined && (data.error || "").startsWith("sign")) $("totp-error").textContent = data.message;
      else $("totp-error").textContent = data.message || "確認できませんでした。";
      return;
    }
    $("totp-error").textContent = "";
    enter(data);
  });

  function openPassword(first) {
    $("password-note").textContent = first
      ? "はじめてのログインです。仮パスワードを、ご自分だけが知っているパスワードに変更してください（12文字以上）。"
      : "新しいパスワードを入力してください（12文字以上）。変更すると、ほかの端末ではログアウトされます。";
    for (const id of ["password-current", "password-new", "password-again"]) $(id).value = "";
    $("password-error").textContent = "";
    show("password");
    $("password-current").focus();
  }

  $("password-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if ($("password-new").value !== $("password-again").value) {
      $("password-error").textContent = "確認用のパスワードが一致しません。";
      return;
    }
    const { ok, data } = await api("POST", "/staff/api/password",
      { current: $("password-current").value, new: $("password-new").value });
    if (!ok) { $("password-error").textContent = data.message || "変更できませんでした。"; return; }
    setStatus("パスワードを変更しました。");
    enter(data);
  });

  async function openEnrol(required) {
    $("enrol-note").textContent = (required ? "この権限では2段階認証が必要です。" : "") +
      "認証アプリ（Google Authenticator など）で下のQRコードを読み取り、表示された6桁の数字を入力してください。QRコードはこの画面でだけ表示されます。";
    $("enrol-error").textContent = ""; $("enrol-code").value = "";
    show("enrol");
    const { ok, data } = await api("POST", "/staff/api/totp/setup");
    if (!ok) { $("enrol-error").textContent = data.message || "設定を始められませんでした。"; return; }
    $("enrol-qr").src = data.qr;
    $("enrol-secret").textContent = data.secret.replace(/(.{4})/g, "$1 ").trim();
    $("enrol-code").focus();
  }

  $("enrol-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { ok, data } = await api("POST", "/staff/api/totp/confirm", { code: $("enrol-code").value });
    if (!ok) { $("enrol-error").textContent = data.message || "確認できませんでした。"; return; }
    $("enrol-qr").removeAttribute("src"); $("enrol-secret").textContent = "";
    setStatus("2段階認証を設定しました。");
    enter(data);
  });

  $("logout").addEventListener("click", async () => {
    await api("POST", "/staff/api/session/logout");
    signedOut("ログアウトしました。");
  });

  // ---- routing (#conversations, #resident/<id>, #search, #accounts, #audit, #settings) ----

  function route() {
    if (!state.account || state.stage !== "ready") return;
    const hash = location.hash.replace(/^#/, "") || "conversations";
    const [view, arg] = hash.split("/");
    const parent = { resident: "conversations", notice: "notices", "notice-edit": "notices" };
    const entry = NAV.find((item) => item.id === (parent[view] || view));
    if (!entry) { location.hash = "#conversations"; return; }
    if (!may(entry.permission)) { show("forbidden"); return; }
    if (view === "resident") { show("conversations"); loadCases(); openResident(arg); return; }
    if (entry.id === "notices" && window.staffNotices) {
      show(view); window.staffNotices.open(view, arg); return;
    }
    if (view === "conversations") { state.selected = null; $("detail").hidden = true; $("placeholder").hidden = false; loadCases(); }
    show(view);
    if (view === "search") $("search-query").focus();
    if (view === "accounts") loadAccounts();
    if (view === "audit") loadAudit(false);
    if (view === "settings") showSettings();
  }
  window.addEventListener("hashchange", route);

  async function refresh() {
    if (!state.account || document.hidden) return;
    if (!$("view-notice").hidden && window.staffNotices) await window.staffNotices.refresh();
    if (!$("view-conversations").hidden) {
      await loadCases();
      if (state.selected) await loadNewer();
    }
  }

  // ---- the list ----------------------------------------------------------------------------

  async function loadCases() {
    const { ok, data } = await api("GET", "/staff/api/conversations");
    if (!ok) return;
    state.cases = data.conversations;
    drawCases();
  }

  function drawCases() {
    const filter = $("filter").value;
    const shown = state.cases.filter((c) =>
      filter === "mine" ? c.mine : filter === "unassigned" ? !c.assigned_to : true);
    $("count").textContent = `（${state.cases.length}件）`;
    $("empty").hidden = shown.length > 0;
    const list = $("list");
    list.replaceChildren();
    for (const c of shown) {
      const badges = el("span", { class: "line" },
        c.urgent ? el("span", { class: "badge urgent", text: "至急" }) : null,
        el("span", { class: "ref", text: c.ref }),
        el("span", { class: "badge " + c.opened_by, text: OPENED[c.opened_by] || c.opened_by }),
        c.unread ? el("span", { class: "unread-count", "aria-label": `未読${c.unread}件`, text: String(c.unread) }) : null);
      const meta = el("span", { class: "meta" },
        el("span", { text: `${jst(c.since)}から` }),
        el("span", { text: c.assigned_to ? `担当: ${c.assigned_to}` : "担当者なし" }),
        c.channel ? el("span", { text: CHANNEL[c.channel] || c.channel }) : null);
      const button = el("button", {
        type: "button",
        class: "item" + (c.urgent ? " urgent" : "") + (c.unread ? " unread" : ""),
        "aria-current": c.resident_id === state.selected ? "true" : "false",
        onclick: () => { location.hash = "#resident/" + c.resident_id; },
      }, badges, meta);
      list.append(el("li", {}, button));
    }
    // A reply assigns an unassigned case to its sender: keep the open case's select in step.
    const open = state.cases.find((c) => c.resident_id === state.selected);
    if (open && state.detail && document.activeElement !== $("d-assign")) $("d-assign").value = open.assigned_to || "";
  }
  $("filter").addEventListener("change", drawCases);

  // ---- one resident --------------------------------------------------------------------------

  async function openResident(rid) {
    if (!/^[0-9a-f]{32}$/.test(rid || "")) { location.hash = "#conversations"; return; }
    state.selected = rid;
    document.body.classList.add("show-detail");
    const { ok, data } = await api("GET", "/staff/api/residents/" + rid);
    if (!ok) { setStatus(data.message || "開けませんでした。", true); location.hash = "#conversations"; return; }
    state.detail = data; state.newest = data.newest;
    $("placeholder").hidden = true; $("detail").hidden = false;
    $("d-ref").textContent = data.ref;
    drawBadges(); drawAssign(); drawNotes(data.notes);
    $("messages").replaceChildren();
    appendMessages(data.transcript, false);
    $("older").hidden = !data.older; $("older").dataset.cursor = data.older || "";
    $("notices-enabled").checked = data.notices_enabled;
    drawBookings(data.bookings);
    $("reply").value = ""; updateCounter(); $("return-panel").hidden = true; $("reply-form").hidden = false;
    $("reply-status").textContent = "";
    scrollToEnd();
    loadCases();
  }

  function drawBadges() {
    const d = state.detail;
    const box = $("d-badges");
    box.replaceChildren();
    if (d.case && d.case.urgent) box.append(el("span", { class: "badge urgent", text: "至急" }));
    const kind = d.handoff ? "handoff" : (d.notes.length ? "message" : (d.case ? d.case.opened_by : "lookup"));
    box.append(el("span", { class: "badge " + kind, text: OPENED[kind] || kind }));
    if (d.channel) box.append(el("span", { class: "badge", text: "最後の連絡: " + (CHANNEL[d.channel] || d.channel) }));
  }

  function drawAssign() {
    const select = $("d-assign");
    select.replaceChildren(el("option", { value: "", text: "担当者なし" }));
    for (const c of state.colleagues) select.append(el("option", { value: c.name, text: c.name }));
    select.value = (state.detail.case && state.detail.case.assigned_to) || "";
  }

  function drawNotes(notes) {
    $("notes").replaceChildren(...notes.map((n) =>
      el("div", { class: "note", text: `${jst(n.at)}  ${n.text}` })));
  }

  function messageNode(m) {
    const who = m.who === "staff" && m.author ? `担当者（${m.author}）` : WHO[m.who] || m.who;
    const head = `${who} · ${jst(m.at)} · ${CHANNEL[m.channel] || m.channel || ""}` +
      (m.kind === "notice" ? " · お知らせ" : "");
    const node = el("li", { class: "msg " + m.who },
      el("span", { class: "who", text: head }),
      el("div", { class: "bubble", text: m.text || "（保存期間を過ぎたため削除されました）" }));
    if (m.suggestions && m.suggestions.length) {
      node.append(el("div", { class: "chips" }, ...m.suggestions.map((s) => el("span", { class: "chip", text: s }))));
    }
    if (STATUS[m.status]) node.append(el("span", { class: "failed", text: STATUS[m.status] }));
    return node;
  }

  function appendMessages(entries, atTop) {
    const nodes = entries.map(messageNode);
    if (atTop) $("messages").prepend(...nodes); else $("messages").append(...nodes);
  }

  function scrollToEnd() { const box = $("transcript"); box.scrollTop = box.scrollHeight; }

  $("older").addEventListener("click", async () => {
    const rid = state.selected;
    const { ok, data } = await api("GET", `/staff/api/residents/${rid}/transcript?before=${encodeURIComponent($("older").dataset.cursor)}`);
    if (!ok || rid !== state.selected) return;
    const box = $("transcript"); const from = box.scrollHeight - box.scrollTop;
    appendMessages(data.transcript, true);
    box.scrollTop = box.scrollHeight - from;
    $("older").hidden = !data.older; $("older").dataset.cursor = data.older || "";
  });

  async function loadNewer() {
    const rid = state.selected;
    if (!rid || !state.newest) return;
    const { ok, data } = await api("GET", `/staff/api/residents/${rid}/transcript?after=${encodeURIComponent(state.newest)}`);
    if (!ok || rid !== state.selected) return;
    if (data.transcript.length) {
      const box = $("transcript");
      const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
      appendMessages(data.transcript, false);
      state.newest = data.newest;
      if (atEnd) scrollToEnd();
    }
    state.detail.notes = data.notes; drawNotes(data.notes);
  }

  // ---- replying and handing back -------------------------------------------------------------

  function updateCounter() {
    const n = $("reply").value.length;
    $("counter").textContent = `${n} / ${MAX}`;
  }
  $("reply").addEventListener("input", updateCounter);
  $("reply").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); $("reply-form").requestSubmit(); }
  });
  $("canned").addEventListener("change", () => {
    const text = $("canned").value;
    if (text) { const box = $("reply"); box.value = box.value ? box.value + "\n" + text : text; updateCounter(); box.focus(); }
    $("canned").value = "";
  });

  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply").value.trim();
    if (!text || state.busy) return;
    state.busy = true; $("send").disabled = true;
    $("reply-status").textContent = "送信しています…"; $("reply-status").classList.remove("error");
    try {
      const { ok, data } = await api("POST", `/staff/api/residents/${state.selected}/reply`, { text });
      if (!ok) { $("reply-status").textContent = data.message || "送信できませんでした。"; $("reply-status").classList.add("error"); return; }
      $("reply").value = ""; updateCounter();
      $("reply-status").textContent = "送信しました。";
      await loadNewer(); scrollToEnd(); loadCases();
    } finally { state.busy = false; $("send").disabled = false; }
  });

  $("return").addEventListener("click", () => {
    $("closing").value = state.detail.handoff ? "担当者との会話を終了します。この後のご質問にはボットがお答えします。ありがとうございました。" : "";
    $("reply-form").hidden = true; $("return-panel").hidden = false; $("closing").focus();
  });
  $("return-cancel").addEventListener("click", () => { $("return-panel").hidden = true; $("reply-form").hidden = false; });
  $("return-confirm").addEventListener("click", async () => {
    const { ok, data } = await api("POST", `/staff/api/residents/${state.selected}/return`, { text: $("closing").value });
    if (!ok) { setStatus(data.message || "ボットに戻せませんでした。", true); return; }
    setStatus("ボットに戻しました。");
    state.selected = null;
    location.hash = "#conversations";
    route();
  });

  $("d-assign").addEventListener("change", async () => {
    const to = $("d-assign").value || null;
    const { ok, data } = await api("POST", `/staff/api/residents/${state.selected}/assign`, { to });
    setStatus(ok ? (to ? `担当を ${to} にしました。` : "担当をはずしました。") : (data.message || "変更できませんでした。"), !ok);
    loadCases();
  });

  $("notices-enabled").addEventListener("change", async () => {
    const enabled = $("notices-enabled").checked;
    const { ok, data } = await api("POST", `/staff/api/residents/${state.selected}/notices`, { enabled });
    if (!ok) { $("notices-enabled").checked = !enabled; setStatus(data.message || "変更できませんでした。", true); return; }
    setStatus(enabled ? "お知らせの配信を再開しました。" : "お知らせの配信を停止しました。");
  });

  // ---- bookings on the resident's behalf ------------------------------------------------------

  function drawBookings(bookings) {
    const box = $("bookings");
    box.replaceChildren();
    if (!bookings.length) { box.append(el("p", { class: "small muted", text: "これからの予約はありません。" })); return; }
    for (const b of bookings) box.append(bookingCard(b));
  }

  function bookingCard(b) {
    const yen = (n) => n.toLocaleString("ja-JP") + "円";
    const card = el("div", { class: "booking", "data-receipt": b.receipt },
      el("div", { class: "head" }, el("span", { class: "date", text: `${b.label}（${b.district}地区）` }),
        el("span", { class: "ref", text: b.receipt })),
      el("ul", {}, ...b.items.map((i) => el("li", { text: `${i.label} ×${i.quantity}（${yen(i.fee * i.quantity)}）` }))),
      el("div", { class: "small", text: `合計 ${b.count}点・${yen(b.fee_total)}` }),
      el("div", { class: "deadline" + (b.changeable ? "" : " passed"),
                  text: b.changeable ? `変更・取消の期限: ${b.deadline_label}` : `変更・取消の期限（${b.deadline_label}）を過ぎています` }));
    const result = el("p", { class: "result", role: "status" });
    const actions = el("div", { class: "actions" },
      el("button", { type: "button", class: "plain", text: "日を変更", onclick: () => changeForm(card, b, result) }),
      el("button", { type: "button", class: "danger", text: "取り消す", onclick: () => cancelForm(card, b, result) }));
    card.append(actions, result);
    return card;
  }

  function reasonField(b, id) {
    if (b.changeable) return [];
    return [el("label", { for: id, text: "期限後に手続きする理由（記録されます・必須）" }),
            el("input", { type: "text", id, maxlength: "200", required: true })];
  }

  async function changeForm(card, b, result) {
    card.querySelector("form")?.remove();
    const override = !b.changeable;
    const { ok, data } = await api("GET", `/staff/api/residents/${state.selected}/bookings/${b.receipt}/days${override ? "?override=1" : ""}`);
    if (!ok) { result.textContent = data.message || "日程を読み込めませんでした。"; result.className = "result error"; return; }
    const selectId = "day-" + b.receipt, reasonId = "reason-" + b.receipt;
    const select = el("select", { id: selectId },
      ...data.days.map((d) => el("option", { value: d.date, text: `${d.label}（あと${d.room}点）${d.within_deadline ? "" : "・受付期限後"}` })));
    const form = el("form", {},
      el("label", { for: selectId, text: "新しい収集日" }), select, ...reasonField(b, reasonId),
      el("div", { class: "actions" },
        el("button", { type: "submit", class: "primary", text: "変更する" }),
        el("button", { type: "button", class: "plain", text: "やめる", onclick: () => form.remove() })));
    if (!data.days.length) { select.disabled = true; result.textContent = "変更できる日がありません。"; }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { date: select.value };
      if (override) body.reason = $(reasonId).value;
      const answer = await api("POST", `/staff/api/residents/${state.selected}/bookings/${b.receipt}/change`, body);
      if (!answer.ok) { result.textContent = answer.data.message || "変更できませんでした。"; result.className = "result error"; return; }
      drawBookings(answer.data.bookings);
      setStatus(`${b.receipt} の収集日を ${answer.data.booking.label} に変更しました。`);
    });
    card.insertBefore(form, result);
    select.focus();
  }

  function cancelForm(card, b, result) {
    card.querySelector("form")?.remove();
    const reasonId = "cancel-reason-" + b.receipt;
    const form = el("form", {},
      el("p", { class: "small", text: "この予約を取り消します。購入済みの処理券は払い戻しできません。" }),
      ...reasonField(b, reasonId),
      el("div", { class: "actions" },
        el("button", { type: "submit", class: "danger", text: "取り消す" }),
        el("button", { type: "button", class: "plain", text: "やめる", onclick: () => form.remove() })));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = b.changeable ? {} : { reason: $(reasonId).value };
      const answer = await api("POST", `/staff/api/residents/${state.selected}/bookings/${b.receipt}/cancel`, body);
      if (!answer.ok) { result.textContent = answer.data.message || "取り消せませんでした。"; result.className = "result error"; return; }
      drawBookings(answer.data.bookings);
      setStatus(`${b.receipt} の予約を取り消しました。`);
    });
    card.insertBefore(form, result);
  }

  // ---- search ----------------------------------------------------------------------------------

  $("search-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("search-error").textContent = "";
    const { ok, data } = await api("POST", "/staff/api/search", { query: $("search-query").value });
    $("search-query").value = "";  // a phone number does not stay on screen
    if (!ok) { $("search-error").textContent = data.message || "見つかりませんでした。"; return; }
    location.hash = "#resident/" + data.resident_id;
  });

  // ---- accounts (admins) ------------------------------------------------------------------------

  async function loadAccounts() {
    const { ok, data } = await api("GET", "/staff/api/accounts");
    const body = $("accounts-table").tBodies[0];
    body.replaceChildren();
    if (!ok) { $("account-error").textContent = data.message || ""; return; }
    for (const a of data.accounts) {
      const state_ = a.disabled ? "停止中" : a.locked ? "一時停止（ログイン失敗）" : a.password_temporary ? "初回ログイン前" : "利用中";
      const actions = el("td", { class: "actions" },
        el("button", { type: "button", class: "plain small", text: "パスワード再発行", onclick: () => accountAction(a.name, "reset") }),
        a.disabled
          ? el("button", { type: "button", class: "plain small", text: "再開", onclick: () => accountAction(a.name, "enable") })
          : el("button", { type: "button", class: "danger small", text: "停止", onclick: () => accountAction(a.name, "disable") }));
      const role = el("select", { "aria-label": `${a.name} の権限`,
        onchange: () => changeRole(a.name, role) });
      for (const [value, label] of Object.entries(ROLES)) role.append(el("option", { value, text: label }));
      role.value = a.role; role.dataset.was = a.role;
      body.append(el("tr", {},
        el("td", { class: "mono", text: a.name }), el("td", {}, role),
        el("td", { class: a.disabled ? "state-off" : "", text: state_ }),
        el("td", { text: a.totp_enabled ? "設定済み" : "未設定" }),
        el("td", { text: a.last_login_at ? jst(a.last_login_at, true) : "—" }), actions));
    }
  }

  const ROLES = { operator: "対応担当", editor: "作成担当", approver: "承認者", admin: "管理者" };

  async function changeRole(name, select) {
    if (!confirm(`${name} の権限を「${ROLES[select.value]}」に変更します。よろしいですか。`)) { select.value = select.dataset.was; return; }
    const { ok, data } = await api("POST", `/staff/api/accounts/${encodeURIComponent(name)}/role`, { role: select.value });
    $("account-error").textContent = ok ? "" : data.message || "変更できませんでした。";
    if (ok) setStatus(`${name} の権限を変更しました。次のログインから有効です。`);
    loadAccounts();
  }

  function showOneTime(data) {
    $("one-time-who").textContent = data.account.name;
    $("one-time-password").textContent = data.password;
    $("one-time-until").textContent = jst(data.expires_at, true);
    $("one-time").hidden = false;
  }

  async function accountAction(name, action) {
    const labels = { reset: "パスワードを再発行", disable: "停止", enable: "再開" };
    if (action !== "enable" && !confirm(`${name} を${labels[action]}します。よろしいですか。`)) return;
    const { ok, data } = await api("POST", `/staff/api/accounts/${encodeURIComponent(name)}/${action}`);
    $("account-error").textContent = ok ? "" : data.message || "できませんでした。";
    if (ok && action === "reset") showOneTime(data);
    if (ok) setStatus(`${name} を${labels[action]}しました。`);
    loadAccounts();
  }

  $("account-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { ok, data } = await api("POST", "/staff/api/accounts",
      { name: $("account-name").value.trim(), role: $("account-role").value });
    $("account-error").textContent = ok ? "" : data.message || "作成できませんでした。";
    if (!ok) return;
    $("account-name").value = "";
    showOneTime(data);
    loadAccounts(); loadColleagues();
  });

  // ---- audit (admins) ---------------------------------------------------------------------------

  function auditQuery() {
    const params = new URLSearchParams();
    const add = (key, id) => { const v = $(id).value.trim(); if (v) params.set(key, v); };
    add("since", "audit-since"); add("until", "audit-until"); add("actor", "audit-actor");
    add("action", "audit-action"); add("resident", "audit-resident");
    return params;
  }

  async function loadAudit(more) {
    const params = auditQuery();
    if (more && state.auditBefore) params.set("before", state.auditBefore);
    $("audit-export").href = "/staff/api/audit/export.csv?" + auditQuery().toString();
    const { ok, data } = await api("GET", "/staff/api/audit?" + params.toString());
    const body = $("audit-table").tBodies[0];
    if (!more) body.replaceChildren();
    if (!ok) { $("audit-verified").textContent = data.message || ""; return; }
    state.labels = data.labels;
    fillActions();
    for (const e of data.entries) {
      body.append(el("tr", {},
        el("td", { text: jst(e.at, true, true) }), el("td", { class: "mono", text: e.actor }),
        el("td", { text: e.label }), el("td", { class: "mono", text: e.resident_id ? e.resident_id.slice(0, 10) : "" }),
        el("td", { class: "mono", text: e.subject || "" }),
        el("td", { class: "detail", text: details(e.detail) })));
    }
    state.auditBefore = data.before;
    $("audit-more").hidden = !data.before;
  }

  function fillActions() {
    const select = $("audit-action");
    if (select.options.length > 1) return;
    const groups = {};
    for (const [action, label] of Object.entries(state.labels)) groups[action] = label;
    for (const [action, label] of Object.entries(groups)) select.append(el("option", { value: action, text: label }));
  }

  $("audit-form").addEventListener("submit", (event) => { event.preventDefault(); loadAudit(false); });
  $("audit-more").addEventListener("click", () => loadAudit(true));
  $("audit-verify").addEventListener("click", async () => {
    const { ok, data } = await api("POST", "/staff/api/audit/verify");
    const box = $("audit-verified");
    if (!ok) { box.textContent = data.message || ""; return; }
    box.className = data.ok ? "ok" : "bad";
    box.textContent = data.ok
      ? `改ざんは見つかりませんでした（${data.checked}件を検査）。`
      : `記録に不整合があります: ${data.problems.join(" / ")}`;
  });

  // ---- own account ------------------------------------------------------------------------------

  function showSettings() {
    const a = state.account;
    $("settings-name").textContent = a.name;
    $("settings-role").textContent = a.role_label;
    $("settings-totp").textContent = a.totp_enabled ? "設定済み" : (a.totp_required ? "必要（未設定）" : "未設定（任意）");
    $("settings-enrol").hidden = a.totp_enabled;
  }
  $("settings-password").addEventListener("click", () => openPassword(false));
  $("settings-enrol").addEventListener("click", () => openEnrol(false));

  // ---- shared lists -----------------------------------------------------------------------------

  async function loadColleagues() {
    const { ok, data } = await api("GET", "/staff/api/colleagues");
    if (ok) state.colleagues = data.colleagues;
  }

  async function loadCanned() {
    const { ok, data } = await api("GET", "/staff/api/canned");
    if (!ok) return;
    const select = $("canned");
    select.replaceChildren(el("option", { value: "", text: "定型文を選ぶ…" }),
      ...data.replies.map((r) => el("option", { value: r.text, text: r.title })));
  }

  $("back").addEventListener("click", () => { location.hash = "#conversations"; });

  // What notices.js uses of the console (the same helpers, the same session).
  window.staffConsole = { $, el, api, jst, may, setStatus, account: () => state.account };

  // ---- start ------------------------------------------------------------------------------------

  (async () => {
    const { data } = await api("GET", "/staff/api/session");
    if (data.signed_in) { enter(data); return; }
    if (data.setup_needed) { show("setup"); return; }
    signedOut(data.expired ? "一定時間操作がなかったため、ログアウトしました。" : "");
  })();
})();
