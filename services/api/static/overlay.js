/* Broadcast overlay: the standings table with FLIP rank animations (the live feed, options and
   STALE badge: overlay_feed.js).
   No build step, no dependencies. Rows carry data-athlete-id / data-rank for browser tests. */
(function () {
  "use strict";

  const LABELS = {
    en: { rank: "#", athlete: "Athlete", country: "Nat.", bouts: "B", wins: "W", losses: "L", draws: "D", points: "Pts", finishes: "Fin", tp: "TP", live: "LIVE", stale: "STALE", updated: "updated" },
    fr: { rank: "#", athlete: "Athlète", country: "Nat.", bouts: "C", wins: "V", losses: "D", draws: "N", points: "Pts", finishes: "Av.", tp: "PT", live: "EN DIRECT", stale: "PÉRIMÉ", updated: "mis à jour" },
    es: { rank: "#", athlete: "Atleta", country: "País", bouts: "C", wins: "G", losses: "P", draws: "E", points: "Pts", finishes: "Fin", tp: "PT", live: "EN VIVO", stale: "DESACTUALIZADO", updated: "actualizado" },
    de: { rank: "#", athlete: "Athlet", country: "Nat.", bouts: "K", wins: "S", losses: "N", draws: "U", points: "Pkt", finishes: "Vorz.", tp: "TP", live: "LIVE", stale: "VERALTET", updated: "aktualisiert" },
    pt: { rank: "#", athlete: "Atleta", country: "País", bouts: "L", wins: "V", losses: "D", draws: "E", points: "Pts", finishes: "Fin", tp: "PT", live: "AO VIVO", stale: "DESATUALIZADO", updated: "atualizado" },
    it: { rank: "#", athlete: "Atleta", country: "Naz.", bouts: "I", wins: "V", losses: "S", draws: "P", points: "Pt", finishes: "Fin", tp: "PT", live: "LIVE", stale: "NON AGGIORNATO", updated: "aggiornato" },
    ja: { rank: "順位", athlete: "選手", country: "国", bouts: "試合", wins: "勝", losses: "敗", draws: "分", points: "点", finishes: "一本", tp: "技術点", live: "ライブ", stale: "更新停止", updated: "更新" },
    ko: { rank: "순위", athlete: "선수", country: "국가", bouts: "경기", wins: "승", losses: "패", draws: "무", points: "점수", finishes: "한판", tp: "기술점", live: "라이브", stale: "지연", updated: "업데이트" },
    zh: { rank: "名次", athlete: "运动员", country: "国家", bouts: "场", wins: "胜", losses: "负", draws: "平", points: "积分", finishes: "终结", tp: "技术分", live: "直播", stale: "数据过期", updated: "更新" },
    ru: { rank: "#", athlete: "Спортсмен", country: "Стр.", bouts: "Б", wins: "П", losses: "Пр", draws: "Н", points: "Очки", finishes: "Дос.", tp: "ТО", live: "ПРЯМОЙ ЭФИР", stale: "УСТАРЕЛО", updated: "обновлено" },
    ar: { rank: "#", athlete: "الرياضي", country: "الدولة", bouts: "ن", wins: "ف", losses: "خ", draws: "ت", points: "نقاط", finishes: "حسم", tp: "ن.ف", live: "مباشر", stale: "قديم", updated: "تحديث" },
  };

  const page = OverlayFeed.page(LABELS);
  const L = page.L;
  const top = Math.max(1, parseInt(page.params.get("top") || "0", 10) || 1000);
  const board = document.getElementById("board");
  const list = document.getElementById("rows");
  const nodes = new Map(); // athlete_id -> <li>

  function cell(cls, text) {
    const span = document.createElement("span");
    span.className = cls;
    if (text !== undefined) span.textContent = text;
    return span;
  }

  function createRow(r) {
    const li = document.createElement("li");
    li.className = "row";
    li.dataset.athleteId = r.athlete_id;
    const athlete = cell("c-athlete");
    const name = cell("name");
    name.dir = "auto";
    const club = cell("club");
    club.dir = "auto";
    athlete.append(name, club);
    li.append(cell("c-rank"), cell("c-move"), athlete, cell("c-country"),
      cell("c-num c-bouts"), cell("c-num c-wins"), cell("c-num c-losses"), cell("c-num c-draws"),
      cell("c-num c-points"), cell("c-num c-finishes"), cell("c-num c-tp"));
    li.classList.add("enter");
    li.addEventListener("animationend", function () { li.classList.remove("enter", "flash"); });
    return li;
  }

  function setText(el, text) { if (el.textContent !== text) el.textContent = text; }

  function updateRow(li, r) {
    const key = [r.rank, r.bouts, r.wins, r.losses, r.draws, r.points, r.finishes, r.tp_for, r.tp_against, r.tie_unresolved, r.name, r.club].join("|");
    const changed = li.dataset.key !== undefined && li.dataset.key !== key;
    li.dataset.key = key;
    li.dataset.rank = String(r.rank);
    const c = li.children;
    c[0].textContent = String(r.rank);
    if (r.tie_unresolved) { const tie = document.createElement("span"); tie.className = "tie"; tie.textContent = "="; c[0].appendChild(tie); }
    const move = c[1];
    move.className = "c-move" + (r.movement > 0 ? " up" : r.movement < 0 ? " down" : "");
    setText(move, r.movement > 0 ? "▲" + r.movement : r.movement < 0 ? "▼" + (-r.movement) : "");
    setText(c[2].children[0], r.name);
    setText(c[2].children[1], r.club || "");
    setText(c[3], r.country);
    setText(c[4], String(r.bouts));
    setText(c[5], String(r.wins));
    setText(c[6], String(r.losses));
    setText(c[7], String(r.draws));
    setText(c[8], String(r.points));
    setText(c[9], String(r.finishes));
    setText(c[10], r.tp_for + ":" + r.tp_against);
    if (changed) { li.classList.remove("flash"); void li.offsetWidth; li.classList.add("flash"); }
  }

  function render(doc) {
    const rows = doc.rows.slice(0, top);
    const visible = Math.max(rows.length, 1);
    const avail = list.getBoundingClientRect().height || 760;
    list.style.setProperty("--row-h", Math.max(28, Math.min(72, Math.floor(avail / visible) - 4)) + "px");
    board.style.setProperty("--row-h", list.style.getPropertyValue("--row-h"));

    // FLIP: First — where every row is now.
    const first = new Map();
    nodes.forEach(function (li, id) { first.set(id, li.getBoundingClientRect().top); });

    const keep = new Set();
    const frag = document.createDocumentFragment();
    rows.forEach(function (r) {
      let li = nodes.get(r.athlete_id);
      if (!li) { li = createRow(r); nodes.set(r.athlete_id, li); }
      updateRow(li, r);
      keep.add(r.athlete_id);
      frag.appendChild(li);
    });
    nodes.forEach(function (li, id) { if (!keep.has(id)) { li.remove(); nodes.delete(id); } });
    list.appendChild(frag); // Last — the new order.

    // Invert, then Play.
    const moved = [];
    nodes.forEach(function (li, id) {
      if (!first.has(id)) return;
      const dy = first.get(id) - li.getBoundingClientRect().top;
      if (Math.abs(dy) > 0.5) {
        li.style.transition = "none";
        li.style.transform = "translateY(" + dy + "px)";
        moved.push(li);
      }
    });
    if (moved.length) {
      void list.offsetHeight;
      requestAnimationFrame(function () {
        moved.forEach(function (li) {
          li.style.transition = "transform 0.7s cubic-bezier(0.2, 0.8, 0.2, 1)";
          li.style.transform = "";
        });
      });
    }

    document.getElementById("tournament-name").textContent = doc.tournament.name;
    document.getElementById("division-name").textContent = doc.division.name;
    board.dataset.version = doc.version === null ? "" : String(doc.version);
    document.title = doc.division.name + " · " + doc.tournament.name;
  }

  OverlayFeed.follow(page, "standings", render);
})();
