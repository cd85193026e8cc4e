/* Bracket overlay (the live feed, options and STALE badge: overlay_feed.js). The current bout (the first to fight in mat order) is highlighted, winners fill in as results
   arrive, repechage and bronze bouts sit in the right-hand column, invalidated bouts are marked as
   needing a re-fight. No build step, no dependencies. Cards carry data-bout-id / data-status /
   data-current / data-invalidated, slots data-athlete-id, for browser tests. */
(function () {
  "use strict";

  const LABELS = {
    en: { live: "LIVE", stale: "STALE", updated: "updated", final: "Final", semi: "Semifinals", quarter: "Quarterfinals", roundOf: "Round of ", repechage: "Repechage", bronze: "Bronze", now: "NOW", refight: "RE-FIGHT", refights: "re-fight", bye: "bye", pool: "Pool ", w: "W", pts: "Pts", nat: "Nat." },
    fr: { live: "EN DIRECT", stale: "PÉRIMÉ", updated: "mis à jour", final: "Finale", semi: "Demi-finales", quarter: "Quarts de finale", roundOf: "Tour de ", repechage: "Repêchage", bronze: "Bronze", now: "EN COURS", refight: "À REFAIRE", refights: "à refaire", bye: "exempt", pool: "Poule ", w: "V", pts: "Pts", nat: "Nat." },
    es: { live: "EN VIVO", stale: "DESACTUALIZADO", updated: "actualizado", final: "Final", semi: "Semifinales", quarter: "Cuartos de final", roundOf: "Ronda de ", repechage: "Repesca", bronze: "Bronce", now: "AHORA", refight: "REPETIR", refights: "a repetir", bye: "exento", pool: "Grupo ", w: "G", pts: "Pts", nat: "País" },
    de: { live: "LIVE", stale: "VERALTET", updated: "aktualisiert", final: "Finale", semi: "Halbfinale", quarter: "Viertelfinale", roundOf: "Runde der ", repechage: "Hoffnungsrunde", bronze: "Bronze", now: "JETZT", refight: "WIEDERHOLUNG", refights: "zu wiederholen", bye: "Freilos", pool: "Pool ", w: "S", pts: "Pkt", nat: "Nat." },
    ja: { live: "ライブ", stale: "更新停止", updated: "更新", final: "決勝", semi: "準決勝", quarter: "準々決勝", roundOf: "ベスト", repechage: "敗者復活戦", bronze: "3位決定戦", now: "試合中", refight: "再試合", refights: "再試合", bye: "不戦", pool: "プール", w: "勝", pts: "点", nat: "国" },
    ko: { live: "라이브", stale: "지연", updated: "업데이트", final: "결승", semi: "준결승", quarter: "8강", roundOf: "", repechage: "패자부활전", bronze: "동메달전", now: "진행 중", refight: "재경기", refights: "재경기", bye: "부전승", pool: "조 ", w: "승", pts: "점수", nat: "국가" },
    zh: { live: "直播", stale: "数据过期", updated: "更新", final: "决赛", semi: "半决赛", quarter: "四分之一决赛", roundOf: "", repechage: "复活赛", bronze: "铜牌战", now: "进行中", refight: "重赛", refights: "重赛", bye: "轮空", pool: "小组 ", w: "胜", pts: "积分", nat: "国家" },
    ru: { live: "ПРЯМОЙ ЭФИР", stale: "УСТАРЕЛО", updated: "обновлено", final: "Финал", semi: "Полуфиналы", quarter: "Четвертьфиналы", roundOf: "1/", repechage: "Утешительные", bronze: "За бронзу", now: "СЕЙЧАС", refight: "ПЕРЕИГРОВКА", refights: "переигровка", bye: "без боя", pool: "Группа ", w: "П", pts: "Очки", nat: "Стр." },
    ar: { live: "مباشر", stale: "قديم", updated: "تحديث", final: "النهائي", semi: "نصف النهائي", quarter: "ربع النهائي", roundOf: "دور الـ", repechage: "الملحق", bronze: "البرونزية", now: "الآن", refight: "إعادة", refights: "إعادة", bye: "تأهل مباشر", pool: "مجموعة ", w: "ف", pts: "نقاط", nat: "الدولة" },
  };

  const page = OverlayFeed.page(LABELS, function (node) { return node.id === "refight-badge"; });
  const L = page.L;
  const board = document.getElementById("board");
  const roundsEl = document.getElementById("rounds");
  const medalsEl = document.getElementById("medals");
  const poolsEl = document.getElementById("pools");
  const refightBadge = document.getElementById("refight-badge");
  const seen = new Map(); // bout_id -> last rendered key (a change flashes the card)

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function roundTitle(round, rounds, size) {
    const left = rounds - round;
    if (left === 0) return L.final;
    if (left === 1) return L.semi;
    if (left === 2) return L.quarter;
    return L.roundOf + (size >> (round - 1));
  }

  function slotNode(slot, side, bout) {
    const athlete = slot.athlete;
    const node = el("div", "slot " + side);
    const score = bout.result ? String(bout.result.score[side]) : "";
    if (athlete) {
      node.dataset.athleteId = athlete.athlete_id;
      if (bout.winner_athlete_id) node.classList.add(bout.winner_athlete_id === athlete.athlete_id ? "winner" : "loser");
    } else {
      node.classList.add(slot.bye ? "bye" : "pending");
    }
    const name = el("span", "name", athlete ? athlete.name : slot.bye ? L.bye : "—");
    name.dir = "auto";
    if (!athlete && slot.waiting_for) name.title = slot.waiting_for;
    node.append(el("span", "colour"), name, el("span", "country", athlete ? athlete.country : ""), el("span", "score", score));
    return node;
  }

  function boutNode(bout, current) {
    const card = el("div", "bout");
    card.dataset.boutId = bout.bout_id;
    card.dataset.status = bout.status;
    card.dataset.current = bout.bout_id === current ? "1" : "0";
    card.dataset.invalidated = bout.invalidated ? "1" : "0";
    card.append(el("span", "tag now", L.now), el("span", "tag refight", L.refight), slotNode(bout.red, "red", bout), slotNode(bout.blue, "blue", bout));
    const key = [bout.status, bout.winner_athlete_id, bout.invalidated, bout.red.athlete && bout.red.athlete.athlete_id, bout.blue.athlete && bout.blue.athlete.athlete_id].join("|");
    if (seen.has(bout.bout_id) && seen.get(bout.bout_id) !== key) card.classList.add("changed");
    seen.set(bout.bout_id, key);
    return card;
  }

  function column(title, bouts, current) {
    const col = el("div", "round");
    const list = el("div", "round-bouts");
    bouts.forEach(function (b) { list.appendChild(boutNode(b, current)); });
    col.append(el("div", "round-title", title), list);
    return col;
  }

  function renderPools(doc) {
    poolsEl.replaceChildren();
    const drawn = doc.bouts.some(function (b) { return b.status !== "waiting"; });
    poolsEl.hidden = !doc.pools || drawn;
    if (poolsEl.hidden) return;
    const advance = doc.format.advance || 2;
    doc.pools.forEach(function (pool) {
      const box = el("div", "pool");
      box.dataset.poolId = pool.pool_id;
      box.appendChild(el("div", "pool-title", L.pool + pool.pool_id));
      const head = el("div", "pool-row head");
      head.append(el("span", "", "#"), el("span", "", ""), el("span", "", L.nat), el("span", "", L.w), el("span", "", L.pts));
      box.appendChild(head);
      pool.rows.forEach(function (r) {
        const row = el("div", "pool-row" + (r.rank <= advance ? " qualifies" : ""));
        row.dataset.athleteId = r.athlete_id;
        const name = el("span", "name", r.name);
        name.dir = "auto";
        row.append(el("span", "", String(r.rank)), name, el("span", "", r.country), el("span", "", String(r.wins)), el("span", "", String(r.points)));
        box.appendChild(row);
      });
      poolsEl.appendChild(box);
    });
  }

  function render(doc) {
    const rounds = Math.round(Math.log2(doc.size));
    const main = doc.bouts.filter(function (b) { return b.phase === "main" || b.phase === "final"; });
    const side = doc.bouts.filter(function (b) { return b.phase === "repechage" || b.phase === "bronze"; });
    const first = main.filter(function (b) { return b.round === 1; }).length || 1;
    const tallest = Math.max(first, side.length * 0.6);
    const avail = (roundsEl.getBoundingClientRect().height || 800) - 34;
    const cardH = Math.max(44, Math.min(120, Math.floor(avail / tallest) - 8));
    board.style.setProperty("--card-h", cardH + "px");
    board.style.setProperty("--name", Math.max(15, Math.min(28, Math.floor(cardH * 0.27))) + "px");

    renderPools(doc);
    roundsEl.hidden = !poolsEl.hidden;
    const columns = [];
    for (let r = 1; r <= rounds; r++) {
      const bouts = main.filter(function (b) { return b.round === r; }).sort(function (a, b) { return a.index - b.index; });
      columns.push(column(roundTitle(r, rounds, doc.size), bouts, doc.current_bout_id));
    }
    roundsEl.replaceChildren.apply(roundsEl, columns);
    medalsEl.replaceChildren();
    const rep = side.filter(function (b) { return b.phase === "repechage"; });
    const bronze = side.filter(function (b) { return b.phase === "bronze"; });
    if (rep.length) medalsEl.appendChild(column(L.repechage, rep, doc.current_bout_id));
    if (bronze.length) medalsEl.appendChild(column(L.bronze, bronze, doc.current_bout_id));

    refightBadge.hidden = !doc.invalidated_bouts;
    refightBadge.textContent = doc.invalidated_bouts + " × " + L.refights;
    document.getElementById("tournament-name").textContent = doc.tournament.name;
    document.getElementById("division-name").textContent = doc.division.name;
    board.dataset.version = doc.version === null ? "" : String(doc.version);
    board.dataset.current = doc.current_bout_id || "";
    document.title = doc.division.name + " · " + doc.tournament.name;
  }

  OverlayFeed.follow(page, "bracket", render);
})();
