#!/usr/bin/env python3
"""Generate a SYNTHETIC Chinese demo corpus in Baidu DuIE 2.0 JSON-lines format.

Nothing here is real DuIE data. The script first samples a small invented "world model" (people,
films, books, songs, companies, schools, places ... and a set of mutually consistent facts about
them), then writes sentences from hand-written templates, each sentence stating one or more of
those facts. Every sentence, name and number is synthetic; a few ordinary well-known names (cities,
countries, a handful of universities and the seed facts) are used only as labels.

The data live in ``configs/demo_corpus.yaml``: the seed facts, the schema, the sentence templates,
the pieces names are made from and the fixed tables. This script holds the logic that samples the
world model from them and assembles the sentences.

    python scripts/make_demo_corpus.py --out DIR [--sentences 5000] [--seed 13]

writes ``DIR/duie_train.json`` (one record per line) and ``DIR/duie_schema.json`` (the DuIE 2.0
schema lines of the predicates the corpus uses). Needs PyYAML; the same arguments (and data file)
always give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import yaml

from kgqa_cli.data.records import Record, SlotValues, Triple

# --------------------------------------------------------------------------------------------------
# The data: seed facts, schema, templates, name pools and fixed tables (configs/demo_corpus.yaml).
DATA_FILE = Path(__file__).resolve().parents[1] / "configs" / "demo_corpus.yaml"


def weighted(pool: dict[str, int]) -> list[str]:
    """A weighted pool ({name: n}) as a list that holds each name n times, in order."""
    return [name for name, n in pool.items() for _ in range(n)]


with DATA_FILE.open(encoding="utf-8") as _fh:
    DATA = yaml.load(_fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
SEED_FACTS: list[tuple[str, str, str]] = [tuple(fact) for fact in DATA["seed_facts"]]
# name: (kind, attributes). "reserved" entities get no invented facts beyond SEED_FACTS.
SEED_ENTITIES: dict[str, tuple[str, dict]] = {
    name: (entity["kind"], {k: v for k, v in entity.items() if k != "kind"})
    for name, entity in DATA["seed_entities"].items()
}
SEED_POOLS, SEED_SCENES = DATA["seed_pools"], DATA["seed_scenes"]
# predicate -> (subject_type, object_type with its slot types)
SCHEMA: dict[str, tuple[str, dict[str, str]]] = {
    p: (line["subject_type"], line["object_type"]) for p, line in DATA["schema"].items()
}
# Predicates with at most one object per subject in the world model.
FUNCTIONAL = set(DATA["functional"])
# predicate -> {"head": [...], "solo": [...], "cont": [...]} sentence templates
T: dict[str, dict[str, list[str]]] = DATA["templates"]
SCENES, PREFIXES, KIND_WORDS = DATA["scenes"], DATA["prefixes"], DATA["kind_words"]
NAMES, TABLES = DATA["names"], DATA["tables"]
KINDS = {kind: weighted(pool) for kind, pool in DATA["kinds"].items()}
CITIES, ANCESTRAL, OCCUPATIONS = TABLES["cities"], TABLES["ancestral_homes"], TABLES["occupations"]
AWARD_BODIES = TABLES["award_bodies"]
RELEASE_AREAS, NATIONALITIES = weighted(TABLES["release_areas"]), weighted(TABLES["nationalities"])

# A complex object's slots, in output order, and the template placeholder of each.
SLOT_PLACEHOLDER = {"inWork": "w", "inArea": "a", "onDate": "d", "period": "p"}
SLOTTED = {p for p, (_, obj) in SCHEMA.items() if len(obj) > 1}
# Entity kinds whose names are titles (written in 《》 most of the time).
TITLE_KINDS = {"film", "book", "song", "album", "show"}


class Fact:
    __slots__ = ("s", "p", "o", "slots")

    def __init__(self, s: str, p: str, o: str, slots: dict[str, str]):
        self.s, self.p, self.o, self.slots = s, p, o, slots


class World:
    """Entities (name -> kind and attributes) and consistent facts about them."""

    def __init__(self) -> None:
        self.kind: dict[str, str] = {}
        self.attrs: dict[str, dict] = {}
        self.facts: list[Fact] = []
        self.by_subject: dict[str, list[Fact]] = {}
        self.by_pred: dict[str, list[Fact]] = {}
        self.by_object: dict[str, list[Fact]] = {}
        self.of_kind: dict[str, list[str]] = {}
        self.taken: set[str] = set()  # other strings that must stay unique (abbreviations, 号, codes)

    def add(self, name: str, kind: str, **attrs) -> str:
        if name in self.kind:
            raise ValueError(f"duplicate entity name {name}")
        self.kind[name] = kind
        self.attrs[name] = attrs
        self.of_kind.setdefault(kind, []).append(name)
        return name

    def fresh(self, make, kind: str, **attrs) -> str:
        for _ in range(1000):
            name = make()
            if name not in self.kind and name not in self.taken:
                return self.add(name, kind, **attrs)
        raise RuntimeError(f"name pool for {kind} exhausted")

    def get(self, s: str, p: str) -> list[Fact]:
        return [f for f in self.by_subject.get(s, []) if f.p == p]

    def has(self, s: str, p: str) -> bool:
        return any(f.p == p for f in self.by_subject.get(s, []))

    def fact(self, s: str, p: str, o: str, **slots: str) -> Fact:
        if p in FUNCTIONAL and self.has(s, p):
            raise ValueError(f"second {p} for {s}")
        f = Fact(s, p, o, {k: slots[k] for k in SLOT_PLACEHOLDER if k in slots})
        self.facts.append(f)
        self.by_subject.setdefault(s, []).append(f)
        self.by_pred.setdefault(p, []).append(f)
        self.by_object.setdefault(o, []).append(f)
        return f

    def free(self, name: str) -> bool:
        return not self.attrs.get(name, {}).get("reserved", False)


# --------------------------------------------------------------------------------------------------
# The world model.


def build_world(rng: random.Random) -> World:
    w = World()

    def person_name(gender: str) -> tuple[str, str]:
        surname = rng.choice(NAMES["surnames"])
        chars = NAMES["male_chars"] if gender == "m" else NAMES["female_chars"]
        given = rng.choice(chars) if rng.random() < 0.3 else rng.choice(chars) + rng.choice(chars)
        return surname, surname + given

    def new_person(role: str, gender: str | None = None, surname: str | None = None) -> str:
        gender = gender or rng.choice("mf")
        for _ in range(1000):
            sur, name = person_name(gender)
            if surname is not None:
                sur = surname
                chars = NAMES["male_chars"] if gender == "m" else NAMES["female_chars"]
                name = sur + rng.choice(chars) + rng.choice(chars)
            if name not in w.kind:
                return w.add(name, "person", gender=gender, role=role, surname=sur)
        raise RuntimeError("person names exhausted")

    def pen_name() -> str:
        return rng.choice(NAMES["pen_a"]) + rng.choice(NAMES["pen_b"])

    def new_character(gender: str | None = None) -> str:
        def make():
            return rng.choice(NAMES["character_surnames"]) + rng.choice(NAMES["character_chars"]) + (rng.choice(NAMES["character_chars"]) if rng.random() < 0.6 else "")
        return w.fresh(make, "character", gender=gender or rng.choice("mf"))

    def pool(n: int, role: str, gender: str | None = None) -> list[str]:
        return [new_person(role, gender) for _ in range(n)]

    def pick(names: list[str], skew: float = 2.0) -> str:
        """A skewed pick: early names come up more often (so some people have many works)."""
        return names[int(len(names) * rng.random() ** skew)]

    def date(y0: int, y1: int, detail: float = 0.6) -> str:
        year = rng.randint(y0, y1)
        r = rng.random()
        if r < detail / 2:
            return f"{year}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
        if r < detail:
            return f"{year}年{rng.randint(1, 12)}月"
        return f"{year}年"

    # Fixed tables: cities, countries, languages, universities, majors.
    for city in CITIES:
        w.add(city, "city")
    for country, facts in TABLES["countries"].items():
        capital, languages = facts["capital"], facts["languages"]
        if country not in w.kind:
            w.add(country, "country")
        if capital and capital not in w.kind:
            w.add(capital, "city")
        if capital and capital != country:
            w.fact(country, "首都", capital)
        for language in languages:
            if language not in w.kind:
                w.add(language, "language")
            w.fact(country, "官方语言", language)
    for place in ANCESTRAL:
        w.add(place, "place")
    for uni, facts in TABLES["universities"].items():
        abbr, founded = facts["short"], facts["founded"]
        w.add(uni, "school", real=True)
        w.taken.add(abbr)
        w.fact(uni, "简称", abbr)
        w.fact(uni, "成立日期", founded)
    for major, facts in TABLES["majors"].items():
        w.add(major, "major")
        w.fact(major, "专业代码", facts["code"])
        w.fact(major, "修业年限", facts["years"])

    # Seeds.
    for name, (kind, attrs) in SEED_ENTITIES.items():
        w.add(name, kind, **attrs)
    for s, p, o in SEED_FACTS:
        w.fact(s, p, o)

    # People by occupation.
    directors = pool(110, "导演")
    writers = pool(100, "编剧")
    producers = pool(60, "制片人")
    actors = pool(340, "演员")
    voices = pool(50, "配音演员")
    singers = pool(130, "歌手") + actors[:20]
    lyricists = pool(60, "词作者")
    composers = pool(60, "作曲家")
    hosts = pool(40, "主持人")
    authors = SEED_POOLS["authors"] + pool(200, "作家")
    for _ in range(50):
        authors.append(w.fresh(pen_name, "person", gender=rng.choice("mf"), role="作家", surname="", pen_name=True))
    entrepreneurs = pool(230, "企业家")
    academics = pool(70, "学者")
    for _ in range(300):  # people with ordinary jobs: spouses, parents, graduates
        new_person(rng.choice(OCCUPATIONS))
    entertainers = actors + singers[:130] + hosts

    # Places.
    def place_stem() -> str:
        while True:
            stem = rng.choice(NAMES["place_a"]) + rng.choice(NAMES["place_b"])
            if stem[0] != stem[1]:
                return stem

    regions = []
    for _ in range(150):
        region = w.fresh(lambda: place_stem() + rng.choice("县市"), "region")
        regions.append(region)
        area = rng.randint(300, 9800)
        w.fact(region, "面积", f"{area}平方公里")
        if rng.random() < 0.85:
            whole, tenth = rng.randint(8, 180), rng.randint(0, 9)
            w.fact(region, "人口数量", f"{whole}.{tenth}万" if tenth else f"{whole}万")
        if rng.random() < 0.7:
            w.fact(region, "气候", rng.choice(TABLES["climates"]))
        if rng.random() < 0.7:
            code = f"{rng.randint(1, 8)}{rng.randint(0, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}00"
            if code not in w.taken:
                w.taken.add(code)
                w.fact(region, "邮政编码", code)
    for _ in range(90):
        kind = rng.choice(NAMES["spot_kinds"])
        spot = w.fresh(lambda kind=kind: place_stem() + kind, "spot")
        w.fact(spot, "所在城市", rng.choice(CITIES))
        if kind in ("山", "峰"):
            w.fact(spot, "海拔", f"{rng.randint(300, 3600)}米")
        elif kind in ("湖", "瀑布", "森林公园") and rng.random() < 0.4:
            w.fact(spot, "海拔", f"{rng.randint(50, 2800)}米")

    # Schools.
    schools = list(TABLES["universities"])
    free_academics = list(academics)
    for _ in range(60):
        for _ in range(1000):
            stem = place_stem()
            suffix, short = rng.choice(NAMES["school_kinds"])
            name = stem + suffix
            abbr = stem + short if short == "理工" else stem[0] + short
            if name not in w.kind and abbr not in w.taken and abbr not in w.kind:
                break
        w.add(name, "school")
        w.taken.add(abbr)
        schools.append(name)
        w.fact(name, "简称", abbr)
        w.fact(name, "成立日期", date(1902, 2005, 0.4))
        if free_academics:
            w.fact(name, "校长", free_academics.pop(rng.randrange(len(free_academics))))
        if rng.random() < 0.75:
            area = f"{rng.randint(800, 6000)}亩" if rng.random() < 0.5 else f"{rng.randint(50, 400)}万平方米"
            w.fact(name, "占地面积", area)

    # Companies.
    free_bosses = list(entrepreneurs)
    film_companies: list[str] = []

    def new_company(industries) -> str:
        for _ in range(1000):
            brand = rng.choice(NAMES["brand_a"]) + rng.choice(NAMES["brand_b"])
            suffix, short = rng.choice(industries)
            city = rng.choice(CITIES)
            name = (city if rng.random() < 0.7 else "") + brand + suffix
            abbr = brand + short
            if name not in w.kind and abbr not in w.taken and abbr not in w.kind:
                break
        w.add(name, "company")
        w.taken.add(abbr)
        if name.startswith(city):
            w.fact(name, "总部地点", city)  # the place name is part of the company name
        elif rng.random() < 0.8:
            w.fact(name, "总部地点", rng.choice(CITIES))
        founder = free_bosses.pop(rng.randrange(len(free_bosses)))
        w.fact(name, "创始人", founder)
        if rng.random() < 0.45:
            w.fact(name, "董事长", founder)
        elif rng.random() < 0.8:
            w.fact(name, "董事长", free_bosses.pop(rng.randrange(len(free_bosses))))
        if rng.random() < 0.8:
            capital = f"{rng.choice([50, 100, 200, 300, 500, 1000, 2000, 5000, 8000])}万元" if rng.random() < 0.7 \
                else f"{rng.randint(1, 30)}亿元"
            w.fact(name, "注册资本", capital)
        if rng.random() < 0.75:
            w.fact(name, "成立日期", date(1985, 2020))
        if rng.random() < 0.6:
            w.fact(name, "简称", abbr)
        return name

    for _ in range(40):
        film_companies.append(new_company(NAMES["film_industries"]))
    companies = [new_company(NAMES["industries"]) for _ in range(100)]
    for company in companies:
        if rng.random() < 0.5:
            for star in rng.sample(entertainers, rng.choice([1, 1, 2])):
                w.fact(company, "代言人", star)

    # Books and novels (novels have a protagonist).
    novels: list[str] = []
    for i in range(380):
        sub = rng.choice(KINDS["book"])
        hero = None
        style = rng.random()
        if sub == "网络小说":
            def make():
                r = rng.random()
                if r < 0.4:
                    return "重生之" + rng.choice(NAMES["web_x"])
                if r < 0.7:
                    return "我在" + rng.choice(CITIES) + "当" + rng.choice(NAMES["web_job"])
                return rng.choice(NAMES["web_x"]) + "之" + rng.choice(NAMES["book_a"]) + rng.choice(NAMES["book_b"])
        elif sub in ("小说",) and style < 0.2:
            hero = new_character()
            suffix = rng.choice(NAMES["character_book_suffixes"])
            def make(hero=hero, suffix=suffix):
                return hero + suffix
        elif style < 0.35:
            def make():
                place = rng.choice(CITIES + regions[:40])
                return rng.choice(NAMES["place_book_titles"]).format(place=place)
        else:
            def make():
                return rng.choice(NAMES["book_a"]) + rng.choice(NAMES["book_b"])
        book = w.fresh(make, "book", sub=sub)
        author = authors[i] if i < len(authors) else pick(authors)
        w.fact(book, "作者", author)
        if sub in ("小说", "网络小说"):
            novels.append(book)
            if hero is None and rng.random() < 0.7:
                hero = new_character()
            if hero is not None:
                w.fact(book, "主角", hero)

    # Albums and songs.
    songs: list[str] = []
    for i in range(70):
        singer = singers[i] if i < len(singers) else pick(singers)
        album = w.fresh(lambda: rng.choice(NAMES["album_a"]) + rng.choice(NAMES["album_b"]), "album", singer=singer)
        for _ in range(rng.randint(2, 4)):
            songs.append(w.fresh(lambda: rng.choice(NAMES["song_a"]) + rng.choice(NAMES["song_b"]), "song", singer=singer, album=album))
    for _ in range(80):
        songs.append(w.fresh(lambda: rng.choice(NAMES["song_a"]) + rng.choice(NAMES["song_b"]), "song", singer=pick(singers), album=None))
    for song in songs:
        a = w.attrs[song]
        w.fact(song, "歌手", a["singer"])
        if rng.random() < 0.08:
            w.fact(song, "歌手", rng.choice([x for x in singers if x != a["singer"]]))
        r = rng.random()
        if r < 0.12:  # the singer wrote both
            w.fact(song, "作词", a["singer"])
            w.fact(song, "作曲", a["singer"])
        elif r < 0.3:  # one songwriter wrote both
            writer = pick(lyricists)
            w.fact(song, "作词", writer)
            w.fact(song, "作曲", writer)
        else:
            w.fact(song, "作词", pick(lyricists))
            w.fact(song, "作曲", pick(composers))
        if a["album"]:
            w.fact(song, "所属专辑", a["album"])

    # Films and TV series.
    film_titles = NAMES["film_a"], NAMES["film_b"]
    free_songs = [s for s in songs]
    rng.shuffle(free_songs)
    free_novels = list(novels)
    rng.shuffle(free_novels)
    films = list(SEED_POOLS["films"])
    for _ in range(330):
        sub = rng.choice(KINDS["film"])
        lead_role = None
        r = rng.random()
        if sub != "动画电影" and r < 0.1:
            lead_role = new_character()
            suffix = rng.choice(NAMES["character_film_suffixes"])
            film = w.fresh(lambda lead_role=lead_role, suffix=suffix: lead_role + suffix, "film", sub=sub)
        else:
            film = w.fresh(lambda: rng.choice(film_titles[0]) + rng.choice(film_titles[1]), "film", sub=sub)
        w.attrs[film]["lead_role"] = lead_role
        films.append(film)
    # adapted films: some titles are the novel's title plus a suffix
    for _ in range(50):
        novel = free_novels.pop()
        sub = rng.choice(KINDS["adapted_film"])
        if rng.random() < 0.5:
            film = w.fresh(lambda novel=novel: novel + rng.choice(NAMES["adaptation_suffixes"]), "film", sub=sub)
        else:
            film = w.fresh(lambda: rng.choice(film_titles[0]) + rng.choice(film_titles[1]), "film", sub=sub)
        w.attrs[film]["lead_role"] = None
        w.attrs[film]["adapted"] = novel
        films.append(film)

    for film in SEED_POOLS["films"]:
        w.attrs[film]["lead_role"] = None
    for film in films:
        a = w.attrs[film]
        sub = a["sub"]
        a.setdefault("year", rng.randint(1995, 2023))
        if not w.has(film, "导演"):
            w.fact(film, "导演", pick(directors, 1.5))
        director = w.get(film, "导演")[0].o
        if rng.random() < 0.25:
            w.fact(film, "编剧", director)
            if rng.random() < 0.3:
                w.fact(film, "编剧", pick(writers))
        else:
            for writer in rng.sample(writers, rng.choice([1, 1, 2])):
                w.fact(film, "编剧", writer)
        if rng.random() < 0.75:
            w.fact(film, "制片人", pick(producers))
        if sub == "动画电影":
            for voice in rng.sample(voices, rng.randint(2, 3)):
                w.fact(voice, "配音", new_character(), inWork=film)
        else:
            cast = rng.sample(actors, rng.randint(2, 4))
            for j, actor in enumerate(cast):
                w.fact(film, "主演", actor)
                role = a["lead_role"] if j == 0 and a["lead_role"] else new_character(w.attrs[actor]["gender"])
                if j == 0 or rng.random() < 0.8:
                    w.fact(actor, "饰演", role, inWork=film)
        if sub != "电视剧":
            area = rng.choice(RELEASE_AREAS)
            year = a["year"]
            r = rng.random()
            when = f"{year}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日" if r < 0.5 else \
                f"{year}年{rng.randint(1, 12)}月" if r < 0.8 else f"{year}年"
            w.fact(film, "上映时间", when, inArea=area)
            if rng.random() < 0.7:
                tenths = rng.randint(3, 150)
                gross = (f"{tenths // 10}亿" if tenths % 10 == 0 else f"{tenths / 10:.1f}亿") if rng.random() < 0.6 \
                    else f"{rng.randint(800, 9900)}万"
                w.fact(film, "票房", gross, inArea=area)
        if rng.random() < 0.45:
            w.fact(film, "出品公司", rng.choice(film_companies))
        if rng.random() < 0.2 and free_songs:
            w.fact(film, "主题曲", free_songs.pop())
        if a.get("adapted"):
            w.fact(film, "改编自", a["adapted"])

    # Awards: an actor for a film they starred in, a singer for a song they sang.
    given: set[tuple[str, int]] = set()
    bodies_for = {k: [b for b, body in AWARD_BODIES.items() if body["for"] == k] for k in ("电影", "电视剧", "music")}
    for actor in actors:
        if rng.random() > 0.3:
            continue
        works = [f.s for f in w.by_object.get(actor, []) if f.p == "主演"]
        if not works:
            continue
        work = rng.choice(works)
        year = min(w.attrs[work]["year"] + 1, 2024)
        bodies = [b for b in bodies_for[w.attrs[work]["sub"]] if AWARD_BODIES[b]["first_year"] <= year]
        body = rng.choice(bodies)
        award = body + rng.choice(TABLES["award_categories"][w.attrs[actor]["gender"]])
        if (award, year) in given:
            continue
        given.add((award, year))
        w.fact(actor, "获奖", award, inWork=work, onDate=f"{year}年", period=str(year - AWARD_BODIES[body]["first_year"] + 1))
    for singer in singers[:130]:
        if rng.random() > 0.25:
            continue
        works = [f.s for f in w.by_object.get(singer, []) if f.p == "歌手"]
        if not works:
            continue
        body = rng.choice(bodies_for["music"])
        award = body + rng.choice(TABLES["music_categories"][w.attrs[singer]["gender"]])
        year = rng.randint(2000, 2023)
        if (award, year) in given:
            continue
        given.add((award, year))
        w.fact(singer, "获奖", award, inWork=rng.choice(works), onDate=f"{year}年",
               period=str(year - AWARD_BODIES[body]["first_year"] + 1))

    # TV shows.
    for _ in range(50):
        show = w.fresh(lambda: rng.choice(NAMES["show_a"]) + rng.choice(NAMES["show_b"]), "show",
                       sub=rng.choice(KINDS["show"]))
        for host in rng.sample(hosts, rng.choice([1, 1, 2])):
            w.fact(show, "主持人", host)
        for guest in rng.sample(actors[:200] + singers[:100], rng.randint(3, 6)):
            if not any(f.o == guest for f in w.get(show, "主持人")):
                w.fact(show, "嘉宾", guest)

    # Historical people.
    for _ in range(130):
        def make():
            return rng.choice(NAMES["ancient_surnames"]) + rng.choice(NAMES["ancient_chars"]) + rng.choice(NAMES["ancient_chars"])
        person = w.fresh(make, "historical", role=rng.choice(TABLES["historic_roles"]), gender="m")
        w.fact(person, "朝代", rng.choice(TABLES["dynasties"]))
        if rng.random() < 0.7:
            for _ in range(20):
                hao = rng.choice(NAMES["hao_a"]) + rng.choice(NAMES["hao_b"])
                if hao[1] != hao[2] and hao not in w.taken and hao not in w.kind:
                    w.taken.add(hao)
                    w.fact(person, "号", hao)
                    break

    # Personal facts: nationality, ancestral home, school, spouses, parents.
    people = [n for n in w.of_kind["person"] if w.free(n)]
    for person in people:
        if rng.random() < 0.55 and not w.has(person, "国籍"):
            w.fact(person, "国籍", rng.choice(NATIONALITIES))
        if rng.random() < 0.3 and not w.has(person, "祖籍"):
            w.fact(person, "祖籍", rng.choice(ANCESTRAL))
        if rng.random() < 0.4 and not w.has(person, "毕业院校"):
            w.fact(person, "毕业院校", pick(schools, 1.3))
    singles = {"m": [], "f": []}
    for person in people:
        if not w.attrs[person].get("pen_name") and not w.has(person, "妻子") and not w.has(person, "丈夫"):
            singles[w.attrs[person]["gender"]].append(person)
    rng.shuffle(singles["m"])
    rng.shuffle(singles["f"])
    for husband, wife in list(zip(singles["m"], singles["f"], strict=False))[:230]:
        if rng.random() < 0.7:
            w.fact(husband, "妻子", wife)
            w.fact(wife, "丈夫", husband)
    children = [p for p in people if not w.attrs[p].get("pen_name") and p not in SEED_ENTITIES]
    for child in rng.sample(children, 160):
        sur = w.attrs[child]["surname"]
        father = new_person(rng.choice(OCCUPATIONS), "m", surname=sur)
        mother = new_person(rng.choice(OCCUPATIONS), "f")
        w.fact(father, "妻子", mother)
        w.fact(mother, "丈夫", father)
        kids = [child]
        if rng.random() < 0.3:
            kids.append(new_person(rng.choice(OCCUPATIONS + ["演员", "歌手"]), surname=sur))
        for kid in kids:
            w.fact(kid, "父亲", father)
            w.fact(kid, "母亲", mother)
        for parent in (father, mother):
            if rng.random() < 0.3:
                w.fact(parent, "祖籍", rng.choice(ANCESTRAL))
    return w


# --------------------------------------------------------------------------------------------------
# Sentences.

class Composer:
    """Writes sentences about the world; each call returns (text, spo_list) or None."""

    def __init__(self, world: World, rng: random.Random):
        self.w, self.rng = world, rng
        self.groups_cache: dict[str, list[list[Fact]]] = {}
        self.hubs = {kind: [n for n in names if world.by_subject.get(n)] for kind, names in world.of_kind.items()}
        self.reset()

    # ---- per-sentence state
    def reset(self) -> None:
        self.spo: list[Triple] = []
        self.seen: set[tuple] = set()
        self.wrapped: dict[str, bool] = {}

    def show(self, name: str) -> str:
        """A name as written: titles of works in 《》 most of the time (fixed within a sentence)."""
        if self.w.kind.get(name) in TITLE_KINDS:
            if name not in self.wrapped:
                self.wrapped[name] = self.rng.random() < 0.8
            return f"《{name}》" if self.wrapped[name] else name
        return name

    def kind_word(self, name: str) -> str:
        kind = self.w.kind.get(name, "")
        return self.w.attrs.get(name, {}).get("sub") or KIND_WORDS.get(kind, "")

    def person_vals(self, name: str) -> dict[str, str]:
        a = self.w.attrs.get(name, {})
        female = a.get("gender") == "f"
        return {"ta": "她" if female else "他", "zi": "女儿" if female else "儿子", "zi1": "女" if female else "子",
                "r": a.get("role", "名人")}

    def join(self, items: list[str]) -> str:
        if len(items) == 1:
            return items[0]
        if self.rng.random() < 0.5:
            return "、".join(items[:-1]) + "和" + items[-1]
        return "、".join(items)

    def add(self, f: Fact, used: set[str] | None = None) -> None:
        slots = {k: v for k, v in f.slots.items() if used is None or k in used}
        key = (f.s, f.p, f.o, tuple(slots.items()))
        if key in self.seen:
            return
        self.seen.add(key)
        subject_type, object_types = SCHEMA[f.p]
        self.spo.append(Triple(
            subject=f.s, subject_type=subject_type, predicate=f.p, object=SlotValues.of(f.o, slots),
            object_type=SlotValues.of(object_types["@value"], {k: object_types[k] for k in slots}),
        ))

    def fill(self, template: str, facts: list[Fact]) -> str:
        """Fill a template for facts that share subject and predicate, and label them."""
        f0 = facts[0]
        vals = {"s": self.show(f0.s), "k": self.kind_word(f0.s), **self.person_vals(f0.s),
                "o": self.join([self.show(f.o) for f in facts])}
        used = set()
        for slot, ph in SLOT_PLACEHOLDER.items():
            if slot in f0.slots:
                vals[ph] = self.show(f0.slots[slot])
                if slot == "inWork":
                    vals["wk"] = self.kind_word(f0.slots[slot])
            if "{" + ph + "}" in template:
                used.add(slot)
        text = template.format(**vals)
        for f in facts:
            self.add(f, used)
        return text

    def finish(self, text: str) -> tuple[str, list[Triple]]:
        if self.rng.random() < 0.08:
            text = self.rng.choice(PREFIXES) + text
        if self.rng.random() < 0.7:
            text += "。"
        return text, self.spo

    # ---- helpers
    def groups(self, subject: str) -> list[list[Fact]]:
        if subject not in self.groups_cache:
            out: list[list[Fact]] = []
            by_p: dict[str, list[Fact]] = {}
            for f in self.w.by_subject.get(subject, []):
                if f.p in SLOTTED:
                    out.append([f])
                elif f.p in by_p:
                    by_p[f.p].append(f)
                else:
                    by_p[f.p] = [f]
                    out.append(by_p[f.p])
            self.groups_cache[subject] = out
        return self.groups_cache[subject]

    def subset(self, facts: list[Fact]) -> list[Fact]:
        if len(facts) > 1 and self.rng.random() < 0.3:
            return facts[: self.rng.randint(1, len(facts))]
        return facts

    # ---- scenes
    def chain(self, subject: str, max_groups: int = 4, head: list[Fact] | None = None,
              template: str | None = None) -> tuple[str, list[Triple]] | None:
        """A sentence about one subject: a head clause and up to max_groups - 1 continuations."""
        groups = self.groups(subject)
        if not groups:
            return None
        rng = self.rng
        n = min(len(groups), max_groups, rng.choice([1, 2, 2, 3, 3, 4]))
        if head is None:
            chosen = rng.sample(groups, n)
            head = self.subset(chosen[0])
        else:
            others = [g for g in groups if not any(f in head for f in g)]
            chosen = [head] + rng.sample(others, min(n - 1, len(others)))
        self.reset()
        parts = [self.fill(template or rng.choice(T[head[0].p]["head"]), head)]
        for group in chosen[1:]:
            parts.append(self.fill(rng.choice(T[group[0].p]["cont"]), self.subset(group)))
        return self.finish("，".join(parts))

    def solo(self, f: Fact, template: str | None = None) -> tuple[str, list[Triple]]:
        self.reset()
        facts = [f]
        if f.p not in SLOTTED and f.p not in FUNCTIONAL and self.rng.random() < 0.5:
            facts = self.subset(self.w.get(f.s, f.p))
            if f not in facts:
                facts = [f]
        t = template or self.rng.choice(T[f.p]["head"] + T[f.p]["solo"])
        return self.finish(self.fill(t, facts))

    def random_fact(self, p: str | None = None) -> Fact:
        p = p or self.rng.choice(list(T))
        return self.rng.choice(self.w.by_pred[p])

    def spouse_pair(self, husband: str | None = None, template: str | None = None):
        if husband is None:
            husband = self.random_fact("妻子").s
        wife = self.w.get(husband, "妻子")[0].o
        self.reset()
        t = template or self.rng.choice(SCENES["spouse_pair"])
        text = t.format(h=husband, wf=wife)
        self.add(self.w.get(husband, "妻子")[0])
        self.add(self.w.get(wife, "丈夫")[0])
        return self.finish(text)

    def family(self):
        child = self.random_fact("父亲").s
        father = self.w.get(child, "父亲")[0]
        mother = self.w.get(child, "母亲")[0]
        self.reset()
        vals = {"c": child, "f": father.o, "m": mother.o, **self.person_vals(child)}
        if self.rng.random() < 0.5:
            text = self.rng.choice(SCENES["family_both"]).format(**vals)
        else:
            t = self.rng.choice(SCENES["family_all"])
            text = t.format(**vals)
            # "{f}与妻子{m}" states 妻子; "{m}和丈夫{f}" states 丈夫
            if "妻子" in t:
                self.add(self.w.get(father.o, "妻子")[0])
            else:
                self.add(self.w.get(mother.o, "丈夫")[0])
        self.add(father)
        self.add(mother)
        return self.finish(text)

    def self_directed(self):
        films = [f.s for f in self.w.by_pred["编剧"] if self.w.get(f.s, "导演")[0].o == f.o]
        film = self.rng.choice(films)
        director = self.w.get(film, "导演")[0]
        writer = next(f for f in self.w.get(film, "编剧") if f.o == director.o)
        self.reset()
        text = self.fill(self.rng.choice(SCENES["self_directed"]), [director])
        self.add(writer)
        return self.finish(text)

    def cast_roles(self):
        film = self.random_fact("主演").s
        roles = {}
        for star in self.w.get(film, "主演"):
            for f in self.w.get(star.o, "饰演"):
                if f.slots.get("inWork") == film:
                    roles[star.o] = (star, f)
        if not roles:
            return None
        pairs = list(roles.values())[: self.rng.randint(1, 3)]
        self.reset()
        rng = self.rng
        F, k = self.show(film), self.kind_word(film)
        style = rng.randrange(4)
        if style == 0 or len(pairs) == 1:
            star, role = pairs[0]
            text = rng.choice(SCENES["cast_roles"]).format(a=star.o, k=k, F=F, c=role.o)
            self.add(star)
            self.add(role)
        elif style == 1:
            text = f"{k}{F}由{self.join([s.o for s, _ in pairs])}主演，" + \
                "，".join(f"{s.o}饰演{r.o}" for s, r in pairs)
            for s, r in pairs:
                self.add(s)
                self.add(r)
        elif style == 2:
            text = f"在{k}{F}中，" + "，".join(f"{s.o}饰演{r.o}" for s, r in pairs)
            for _, r in pairs:
                self.add(r)
        else:
            names = "和".join(s.o for s, _ in pairs[:2])
            chars = "和".join(r.o for _, r in pairs[:2])
            text = f"{F}的主演{names}分别饰演{chars}" if len(pairs) >= 2 else f"{F}的主演{names}饰演{chars}"
            for s, r in pairs[:2]:
                self.add(s)
                self.add(r)
        return self.finish(text)

    def adaptation(self):
        fact = self.random_fact("改编自")
        author = self.w.get(fact.o, "作者")[0]
        self.reset()
        rng = self.rng
        vals = {"F": self.show(fact.s), "k": self.kind_word(fact.s), "N": self.show(fact.o), "au": author.o}
        style = rng.randrange(3)
        if style == 0:
            text = rng.choice(SCENES["adaptation"]["by_author"]).format(**vals)
        elif style == 1:
            text = SCENES["adaptation"]["novel_first"].format(**vals)
        else:
            director = self.w.get(fact.s, "导演")[0]
            text = SCENES["adaptation"]["with_director"].format(d=director.o, **vals)
            self.add(director)
        self.add(fact)
        self.add(author)
        return self.finish(text)

    def filmography(self, director: str | None = None, template: str | None = None, kind: str | None = None):
        if director is None:
            director = self.random_fact("导演").o
        facts = [f for f in self.w.by_object[director] if f.p == "导演"]
        if kind:
            facts = [f for f in facts if self.w.attrs[f.s]["sub"] == kind]
        if len(facts) < 2:
            return None
        facts = self.rng.sample(facts, min(len(facts), self.rng.randint(2, 4)))
        self.reset()
        subs = {self.w.attrs[f.s]["sub"] for f in facts}
        if len(subs) == 1 and self.rng.random() < 0.5:
            listing = self.rng.choice(["{k}", ""]).format(k=subs.pop()) + self.join([self.show(f.s) for f in facts])
        else:
            listing = self.join([self.kind_word(f.s) + self.show(f.s) for f in facts])
        text = (template or self.rng.choice(SCENES["filmography"])).format(o=director, S=listing)
        for f in facts:
            self.add(f)
        return self.finish(text)

    def bibliography(self):
        author = self.random_fact("作者").o
        facts = [f for f in self.w.by_object[author] if f.p == "作者"]
        if len(facts) < 2:
            return None
        facts = self.rng.sample(facts, min(len(facts), 3))
        self.reset()
        text = self.rng.choice(SCENES["bibliography"]).format(o=author, S=self.join([self.show(f.s) for f in facts]))
        for f in facts:
            self.add(f)
        return self.finish(text)

    def co_graduates(self):
        school = self.random_fact("毕业院校").o
        facts = [f for f in self.w.by_object[school] if f.p == "毕业院校" and self.w.free(f.s)]
        if len(facts) < 2:
            return None
        facts = self.rng.sample(facts, min(len(facts), self.rng.randint(2, 3)))
        self.reset()
        text = self.rng.choice(SCENES["co_graduates"]).format(o=school, S=self.join([f.s for f in facts]))
        for f in facts:
            self.add(f)
        return self.finish(text)

    def song_writer(self):
        songs = [f.s for f in self.w.by_pred["作词"] if self.w.get(f.s, "作曲")[0].o == f.o]
        song = self.rng.choice(songs)
        lyric, music = self.w.get(song, "作词")[0], self.w.get(song, "作曲")[0]
        singers = self.w.get(song, "歌手")
        self.reset()
        if len(singers) == 1 and singers[0].o == lyric.o and self.rng.random() < 0.6:
            text = self.fill(self.rng.choice(SCENES["song_all"]), [lyric])
            self.add(singers[0])
        else:
            text = self.fill(self.rng.choice(SCENES["song_writer"]), [lyric])
        self.add(music)
        return self.finish(text)

    def founder_chair(self):
        companies = [f.s for f in self.w.by_pred["董事长"] if self.w.get(f.s, "创始人")[0].o == f.o]
        company = self.rng.choice(companies)
        self.reset()
        text = self.fill(self.rng.choice(SCENES["founder_chair"]), self.w.get(company, "创始人"))
        self.add(self.w.get(company, "董事长")[0])
        return self.finish(text)

    def theme_song(self):
        fact = self.random_fact("主题曲")
        singer = self.w.get(fact.o, "歌手")[0]
        self.reset()
        vals = {"F": self.show(fact.s), "k": self.kind_word(fact.s), "S": self.show(fact.o), "v": singer.o}
        text = self.rng.choice(SCENES["theme_song"]).format(**vals)
        self.add(fact)
        self.add(singer)
        return self.finish(text)

    def dubbing(self):
        fact = self.random_fact("配音")
        film = fact.slots["inWork"]
        facts = [f for f in self.w.by_pred["配音"] if f.slots["inWork"] == film]
        self.reset()
        F, k = self.show(film), self.kind_word(film)
        text = f"在{k}{F}中，" + "，".join(f"{f.s}为{f.o}配音" for f in facts)
        for f in facts:
            self.add(f)
        return self.finish(text)

    def studio_film(self):
        fact = self.random_fact("出品公司")
        director = self.w.get(fact.s, "导演")[0]
        self.reset()
        vals = {"F": self.show(fact.s), "k": self.kind_word(fact.s), "c": fact.o, "d": director.o}
        text = self.rng.choice(SCENES["studio_film"]).format(**vals)
        self.add(fact)
        self.add(director)
        release = self.w.get(fact.s, "上映时间")
        if release and self.rng.random() < 0.5:
            text += f"，于{release[0].o}在{release[0].slots['inArea']}上映"
            self.add(release[0])
        return self.finish(text)

    def award_role(self):
        fact = self.random_fact("获奖")
        work = fact.slots["inWork"]
        roles = [f for f in self.w.get(fact.s, "饰演") if f.slots["inWork"] == work]
        if not roles:
            return None
        self.reset()
        vals = {"s": fact.s, "w": self.show(work), "c": roles[0].o, "o": fact.o, "p": fact.slots["period"],
                "d": fact.slots["onDate"]}
        template = self.rng.choice(SCENES["award_role"])
        text = template.format(**vals)
        self.add(fact, {slot for slot, ph in SLOT_PLACEHOLDER.items() if "{" + ph + "}" in template})
        self.add(roles[0])
        return self.finish(text)


# Scene name -> weight. Chains are picked by hub kind.
CHAIN_WEIGHTS = {"film": 13, "person": 11, "song": 6, "company": 5, "school": 3, "region": 3, "country": 1.2,
                 "major": 1, "historical": 2.5, "spot": 2, "book": 4, "show": 3}
SPECIAL_WEIGHTS = {"spouse_pair": 3, "family": 3, "self_directed": 2, "cast_roles": 5, "adaptation": 3,
                   "filmography": 3, "bibliography": 2, "co_graduates": 1.5, "song_writer": 2, "founder_chair": 1.5,
                   "theme_song": 2, "dubbing": 2, "studio_film": 2, "award_role": 2.5}
SOLO_WEIGHT = 24


def seed_sentences(c: Composer) -> list[tuple[str, list[Triple]]]:
    """At least six differently phrased sentences for every seed fact, plus a few multi-fact ones."""
    out = []
    for s, p, o in SEED_FACTS:
        fact = next(f for f in c.w.get(s, p) if f.o == o)
        templates = T[p]["head"] + T[p]["solo"]
        for i in c.rng.sample(range(len(templates)), 6):
            out.append(c.solo(fact, templates[i]))
        if len(c.groups(s)) > 1 and c.w.free(s):
            out.append(c.chain(s, head=[fact]))
    director, husband = SEED_SCENES["director"], SEED_SCENES["husband"]
    for template in SCENES["filmography"][:3]:
        out.append(c.filmography(director, template, kind=SEED_SCENES["series"]))
    out.append(c.filmography(director, SCENES["filmography"][3]))
    for template in SCENES["spouse_pair"][:4]:
        out.append(c.spouse_pair(husband, template))
    return [x for x in out if x]


def generate(sentences: int, seed: int) -> tuple[list[Record], list[dict]]:
    rng = random.Random(seed)
    world = build_world(rng)
    c = Composer(world, rng)
    records: list[tuple[str, list[Triple]]] = []
    texts: set[str] = set()

    def keep(item) -> None:
        """Keep a sentence unless one differing only in its opening phrase or full stop is kept already."""
        if not item or not item[1] or len(records) >= sentences:
            return
        key = item[0].rstrip("。")
        for prefix in PREFIXES:
            key = key.removeprefix(prefix)
        if key not in texts:
            texts.add(key)
            records.append((item[0], list(item[1])))

    for item in seed_sentences(c):
        keep(item)
    chain_kinds = [k for k in CHAIN_WEIGHTS if c.hubs.get(k)]
    scenes = [("chain", k) for k in chain_kinds] + [("special", k) for k in SPECIAL_WEIGHTS] + [("solo", "")]
    weights = [CHAIN_WEIGHTS[k] for k in chain_kinds] + list(SPECIAL_WEIGHTS.values()) + [SOLO_WEIGHT]
    attempts = 0
    while len(records) < sentences:
        attempts += 1
        if attempts > sentences * 50:
            raise RuntimeError("could not write enough distinct sentences; lower --sentences")
        kind, name = rng.choices(scenes, weights)[0]
        if kind == "chain":
            keep(c.chain(rng.choice(c.hubs[name])))
        elif kind == "special":
            keep(getattr(c, name)())
        else:
            keep(c.solo(c.random_fact()))
    rng.shuffle(records)
    out = [Record(text=text, spo_list=spo) for text, spo in records]
    used = {t.predicate for r in out for t in r.spo_list}
    schema = [{"subject_type": SCHEMA[p][0], "predicate": p, "object_type": dict(SCHEMA[p][1])}
              for p in SCHEMA if p in used]
    return out, schema


def duie_line(record: Record) -> dict:
    """A record as Baidu's DuIE 2.0 files write it: each triple's keys in their order, not the
    toolkit's, so that the demo reads like the real corpus."""
    return {"text": record.text, "spo_list": [{
        "predicate": t.predicate, "object_type": t.object_type.to_json(), "subject_type": t.subject_type,
        "object": t.object.to_json(), "subject": t.subject,
    } for t in record.spo_list]}


def write_lines(path: Path, items: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic DuIE 2.0 demo corpus (duie_train.json, duie_schema.json).")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--sentences", type=int, default=5000, help="number of sentences (default 5000)")
    parser.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    args = parser.parse_args(argv)
    if args.sentences < 1:
        parser.error("--sentences must be at least 1")
    start = time.perf_counter()
    records, schema = generate(args.sentences, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_lines(args.out / "duie_train.json", [duie_line(record) for record in records])
    write_lines(args.out / "duie_schema.json", schema)
    triples = sum(len(r.spo_list) for r in records)
    multi = sum(len(r.spo_list) > 1 for r in records)
    print(f"make_demo_corpus: {len(records)} sentences, {triples} triples, {len(schema)}/{len(SCHEMA)} predicates, "
          f"{multi / len(records):.1%} with 2+ triples -> {args.out} ({time.perf_counter() - start:.2f}s)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
