#!/usr/bin/env python3
"""Generate a SYNTHETIC Chinese demo corpus in Baidu DuIE 2.0 JSON-lines format.

Nothing here is real DuIE data. The script first samples a small invented "world model" (people,
films, books, songs, companies, schools, places ... and a set of mutually consistent facts about
them), then writes sentences from hand-written templates, each sentence stating one or more of
those facts. Every sentence, name and number is synthetic; a few ordinary well-known names (cities,
countries, a handful of universities and the SEED_FACTS below) are used only as labels.

    python scripts/make_demo_corpus.py --out DIR [--sentences 5000] [--seed 13]

writes ``DIR/duie_train.json`` (one record per line) and ``DIR/duie_schema.json`` (the DuIE 2.0
schema lines of the predicates the corpus uses). Standard library only; the same arguments always
give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

# --------------------------------------------------------------------------------------------------
# Facts that must be in the world model and stated in several sentences with different phrasings.
# (subject, predicate, object); the kinds of their entities are in SEED_ENTITIES.
SEED_FACTS: tuple[tuple[str, str, str], ...] = (
    ("三度诱惑", "导演", "何藩"),
    ("长街旧梦", "导演", "何藩"),
    ("浮城往事", "导演", "何藩"),
    ("三度诱惑", "主演", "沈碧云"),
    ("我乔布斯", "作者", "苏云帆"),
    ("妖精凄卟曲之美男就地扑倒", "作者", "月下听风"),
    ("决胜", "作者", "钟远山"),
    ("许晋亨", "妻子", "李嘉欣"),
    ("李嘉欣", "丈夫", "许晋亨"),
    ("林晓蔚", "毕业院校", "清华大学"),
)

# name: (kind, attributes). "reserved" entities get no invented facts beyond SEED_FACTS.
SEED_ENTITIES: dict[str, tuple[str, dict]] = {
    "三度诱惑": ("film", {"sub": "电影", "year": 1995, "reserved": True}),
    "长街旧梦": ("film", {"sub": "电视剧", "year": 2004}),
    "浮城往事": ("film", {"sub": "电视剧", "year": 2009}),
    "何藩": ("person", {"gender": "m", "role": "导演", "surname": "何", "reserved": True}),
    "沈碧云": ("person", {"gender": "f", "role": "演员", "surname": "沈"}),
    "我乔布斯": ("book", {"sub": "图书"}),
    "苏云帆": ("person", {"gender": "m", "role": "作家", "surname": "苏"}),
    "妖精凄卟曲之美男就地扑倒": ("book", {"sub": "网络小说"}),
    "月下听风": ("person", {"gender": "f", "role": "作家", "surname": "", "pen_name": True}),
    "决胜": ("book", {"sub": "图书"}),
    "钟远山": ("person", {"gender": "m", "role": "作家", "surname": "钟"}),
    "许晋亨": ("person", {"gender": "m", "role": "企业家", "surname": "许", "reserved": True}),
    "李嘉欣": ("person", {"gender": "f", "role": "演员", "surname": "李", "reserved": True}),
    "林晓蔚": ("person", {"gender": "f", "role": "工程师", "surname": "林"}),
}

# --------------------------------------------------------------------------------------------------
# DuIE 2.0 predicates used here: predicate -> (subject_type, object_type with its slot types).
SCHEMA: dict[str, tuple[str, dict[str, str]]] = {
    "导演": ("影视作品", {"@value": "人物"}),
    "编剧": ("影视作品", {"@value": "人物"}),
    "主演": ("影视作品", {"@value": "人物"}),
    "制片人": ("影视作品", {"@value": "人物"}),
    "出品公司": ("影视作品", {"@value": "企业"}),
    "主题曲": ("影视作品", {"@value": "歌曲"}),
    "改编自": ("影视作品", {"@value": "作品"}),
    "上映时间": ("影视作品", {"@value": "Date", "inArea": "地点"}),
    "票房": ("影视作品", {"@value": "Number", "inArea": "地点"}),
    "饰演": ("娱乐人物", {"@value": "人物", "inWork": "影视作品"}),
    "配音": ("娱乐人物", {"@value": "人物", "inWork": "影视作品"}),
    "获奖": ("娱乐人物", {"@value": "奖项", "inWork": "作品", "onDate": "Date", "period": "Number"}),
    "作者": ("图书作品", {"@value": "人物"}),
    "主角": ("文学作品", {"@value": "人物"}),
    "作词": ("歌曲", {"@value": "人物"}),
    "作曲": ("歌曲", {"@value": "人物"}),
    "歌手": ("歌曲", {"@value": "人物"}),
    "所属专辑": ("歌曲", {"@value": "音乐专辑"}),
    "主持人": ("电视综艺", {"@value": "人物"}),
    "嘉宾": ("电视综艺", {"@value": "人物"}),
    "妻子": ("人物", {"@value": "人物"}),
    "丈夫": ("人物", {"@value": "人物"}),
    "父亲": ("人物", {"@value": "人物"}),
    "母亲": ("人物", {"@value": "人物"}),
    "毕业院校": ("人物", {"@value": "学校"}),
    "国籍": ("人物", {"@value": "国家"}),
    "祖籍": ("人物", {"@value": "地点"}),
    "朝代": ("历史人物", {"@value": "Text"}),
    "号": ("历史人物", {"@value": "Text"}),
    "创始人": ("企业", {"@value": "人物"}),
    "董事长": ("企业", {"@value": "人物"}),
    "总部地点": ("企业", {"@value": "地点"}),
    "注册资本": ("企业", {"@value": "Number"}),
    "代言人": ("企业/品牌", {"@value": "人物"}),
    "成立日期": ("机构", {"@value": "Date"}),
    "简称": ("机构", {"@value": "Text"}),
    "占地面积": ("机构", {"@value": "Number"}),
    "校长": ("学校", {"@value": "人物"}),
    "面积": ("行政区", {"@value": "Number"}),
    "人口数量": ("行政区", {"@value": "Number"}),
    "气候": ("行政区", {"@value": "气候"}),
    "邮政编码": ("行政区", {"@value": "Text"}),
    "首都": ("国家", {"@value": "城市"}),
    "官方语言": ("国家", {"@value": "语言"}),
    "专业代码": ("学科专业", {"@value": "Text"}),
    "修业年限": ("学科专业", {"@value": "Number"}),
    "所在城市": ("景点", {"@value": "城市"}),
    "海拔": ("地点", {"@value": "Number"}),
}

# A complex object's slots, in output order, and the template placeholder of each.
SLOT_PLACEHOLDER = {"inWork": "w", "inArea": "a", "onDate": "d", "period": "p"}
SLOTTED = {p for p, (_, obj) in SCHEMA.items() if len(obj) > 1}
# Predicates with at most one object per subject in the world model.
FUNCTIONAL = {
    "导演", "制片人", "出品公司", "主题曲", "改编自", "上映时间", "票房", "作者", "主角", "作词", "作曲",
    "所属专辑", "妻子", "丈夫", "父亲", "母亲", "毕业院校", "国籍", "祖籍", "朝代", "号", "创始人", "董事长",
    "总部地点", "注册资本", "成立日期", "简称", "占地面积", "校长", "面积", "人口数量", "气候", "邮政编码",
    "首都", "专业代码", "修业年限", "所在城市", "海拔",
}
TITLE_KINDS = {"film", "book", "song", "album", "show"}

# --------------------------------------------------------------------------------------------------
# Sentence templates. {s} subject, {o} object(s), {k} the subject's kind word (电影, 小说 ...),
# {ta} 他/她, {r} a person's occupation, {zi} 儿子/女儿; slots: {w} inWork ({wk} its kind word),
# {a} inArea, {d} onDate, {p} period. A slot is labelled only when its placeholder is used.
# "head" clauses open a sentence with the subject as topic, "cont" clauses continue one about the
# same subject, "solo" clauses stand alone.
T: dict[str, dict[str, list[str]]] = {
    "导演": {
        "head": ["{s}是由{o}执导的{k}", "{k}{s}由{o}导演", "{s}的导演是{o}", "{s}是{o}导演的一部{k}",
                 "{k}{s}的导演为{o}"],
        "solo": ["{o}执导了{k}{s}", "{o}曾导演过{k}{s}，口碑不错", "由{o}执导的{k}{s}广受好评",
                 "{o}担任{k}{s}的导演"],
        "cont": ["由{o}执导", "导演是{o}", "{o}担任导演"],
    },
    "编剧": {
        "head": ["{s}的编剧是{o}", "{k}{s}由{o}编剧", "{s}是由{o}编剧的{k}", "{k}{s}的剧本出自{o}之手"],
        "solo": ["{o}为{k}{s}担任编剧", "{o}编剧的{k}{s}播出后反响热烈", "{o}创作了{k}{s}的剧本"],
        "cont": ["编剧为{o}", "由{o}担任编剧", "剧本由{o}创作"],
    },
    "主演": {
        "head": ["{s}是由{o}主演的{k}", "{k}{s}由{o}领衔主演", "{s}的主演有{o}", "{k}{s}由{o}等人主演"],
        "solo": ["{o}主演了{k}{s}", "{o}在{k}{s}中担任主演", "{o}出演了{k}{s}的主要角色"],
        "cont": ["主演有{o}", "由{o}主演", "{o}等人担纲主演"],
    },
    "制片人": {
        "head": ["{s}的制片人是{o}", "{k}{s}由{o}担任制片人", "{k}{s}的制片人为{o}", "{s}的制片人由{o}担任"],
        "solo": ["{o}担任{k}{s}的制片人", "{o}是{k}{s}的制片人", "作为制片人，{o}全程参与了{k}{s}的筹备"],
        "cont": ["制片人为{o}", "由{o}担任制片人"],
    },
    "出品公司": {
        "head": ["{k}{s}由{o}出品", "{s}的出品公司是{o}", "{s}是{o}出品的{k}", "{k}{s}由{o}投资出品"],
        "solo": ["{o}出品的{k}{s}于近日杀青", "{o}宣布出品{k}{s}", "{o}是{k}{s}的出品公司"],
        "cont": ["由{o}出品", "出品公司为{o}"],
    },
    "主题曲": {
        "head": ["{s}的主题曲是{o}", "{k}{s}的主题曲为{o}", "{k}{s}选用{o}作为主题曲"],
        "solo": ["{o}是{k}{s}的主题曲", "歌曲{o}被选为{k}{s}的主题曲", "{o}作为{k}{s}的主题曲广为传唱",
                 "{k}{s}片尾响起的主题曲{o}打动了不少观众"],
        "cont": ["主题曲为{o}", "主题曲是{o}"],
    },
    "改编自": {
        "head": ["{k}{s}改编自小说{o}", "{s}是根据{o}改编的{k}", "{k}{s}的原著是{o}"],
        "solo": ["由小说{o}改编而成的{k}{s}即将开播", "小说{o}被改编成{k}{s}", "{o}曾被改编为{k}{s}"],
        "cont": ["改编自小说{o}", "根据小说{o}改编"],
    },
    "上映时间": {
        "head": ["{s}于{o}在{a}上映", "{k}{s}于{o}上映", "{s}在{a}的上映时间为{o}", "{k}{s}定档{o}在{a}公映"],
        "solo": ["{o}，{k}{s}在{a}正式上映", "{o}上映的{k}{s}吸引了大量观众", "{k}{s}将于{o}登陆{a}院线"],
        "cont": ["于{o}在{a}上映", "于{o}上映", "在{a}的上映日期是{o}"],
    },
    "票房": {
        "head": ["{s}在{a}的票房为{o}元", "{k}{s}累计票房达{o}元", "{s}在{a}收获了{o}元票房",
                 "{k}{s}的总票房约为{o}元"],
        "solo": ["截至下映，{k}{s}在{a}共取得{o}元票房", "{o}元的票房让{k}{s}成为当年的黑马",
                 "凭借{o}元票房，{s}位列{a}年度票房榜前列"],
        "cont": ["在{a}斩获{o}元票房", "累计票房{o}元"],
    },
    "饰演": {
        "head": ["{s}在{w}中饰演{o}", "{s}在{wk}{w}里扮演{o}", "{s}于{w}中出演{o}一角", "{s}凭借在{w}中饰演的{o}一角走红"],
        "solo": ["{w}中{o}一角由{s}饰演", "{o}这个角色在{wk}{w}中由{s}扮演", "在{wk}{w}中，{s}饰演{o}",
                 "{s}饰演的{o}令人印象深刻"],
        "cont": ["在{w}中饰演{o}", "曾在{wk}{w}中扮演{o}"],
    },
    "配音": {
        "head": ["{s}在{w}中为{o}配音", "{s}为{wk}{w}中的{o}配音", "{s}是{w}里{o}的配音演员", "{s}担任{o}的配音"],
        "solo": ["{w}中{o}的配音由{s}完成", "{o}的声音来自配音演员{s}", "在{wk}{w}中，{s}为角色{o}献声"],
        "cont": ["在{w}中为{o}配音", "为{wk}{w}中的{o}配音"],
    },
    "获奖": {
        "head": ["{s}凭借{w}获得第{p}届{o}", "{d}，{s}凭借{w}荣获{o}", "{s}获得了第{p}届{o}", "{s}曾获{o}",
                 "{s}于{d}凭借{w}摘得第{p}届{o}"],
        "solo": ["{d}，第{p}届{o}颁给了{s}", "{o}得主{s}在{w}中的表现可圈可点", "凭借{w}，{s}在{d}摘得{o}"],
        "cont": ["凭借{w}获得第{p}届{o}", "{d}荣获{o}", "曾获{o}"],
    },
    "作者": {
        "head": ["{s}是{o}创作的{k}", "{k}{s}的作者是{o}", "{s}是{o}所著的一部{k}", "{k}{s}出自{o}之手"],
        "solo": ["{o}写了一部名为{s}的{k}", "{o}的代表作{s}深受读者喜爱", "{o}著有{k}{s}", "{k}{s}，作者{o}"],
        "cont": ["作者是{o}", "由{o}创作", "为{o}所著"],
    },
    "主角": {
        "head": ["{s}的主角是{o}", "{k}{s}的主人公是{o}", "{s}以{o}为主角", "{k}{s}讲述了主人公{o}的成长故事"],
        "solo": ["{o}是{k}{s}中的主角", "{k}{s}围绕主角{o}展开", "在{k}{s}里，{o}是故事的主人公"],
        "cont": ["主角是{o}", "主人公为{o}"],
    },
    "作词": {
        "head": ["{s}的作词是{o}", "歌曲{s}由{o}作词", "{s}是{o}作词的一首歌曲", "{k}{s}的词作者为{o}"],
        "solo": ["{o}为歌曲{s}填词", "{o}填词的{s}广受欢迎", "{o}写下了{s}的歌词"],
        "cont": ["由{o}作词", "作词{o}", "词作者是{o}"],
    },
    "作曲": {
        "head": ["{s}的作曲是{o}", "歌曲{s}由{o}作曲", "{s}是{o}谱曲的一首歌", "{k}{s}的曲作者为{o}"],
        "solo": ["{o}为{s}谱曲", "{o}作曲的{s}旋律优美", "{o}创作了{s}的旋律"],
        "cont": ["由{o}作曲", "{o}谱曲", "曲作者是{o}"],
    },
    "歌手": {
        "head": ["{s}是{o}演唱的歌曲", "歌曲{s}由{o}演唱", "{s}的演唱者是{o}", "{k}{s}的原唱是{o}"],
        "solo": ["{o}演唱了歌曲{s}", "{o}的一首{s}打动了无数听众", "{o}的代表曲目有{s}"],
        "cont": ["由{o}演唱", "原唱是{o}", "演唱者为{o}"],
    },
    "所属专辑": {
        "head": ["{s}收录于专辑{o}中", "歌曲{s}出自专辑{o}", "{s}是专辑{o}中的一首歌", "{k}{s}收录在{o}这张专辑里"],
        "solo": ["专辑{o}收录了歌曲{s}", "{o}这张专辑中最受欢迎的是{s}", "{s}被收录进专辑{o}"],
        "cont": ["收录于专辑{o}", "出自专辑{o}"],
    },
    "主持人": {
        "head": ["{s}的主持人是{o}", "{k}{s}由{o}主持", "{s}是{o}主持的{k}", "{k}{s}的主持人为{o}"],
        "solo": ["{o}主持的{k}{s}收视率一路走高", "{o}担任{k}{s}的主持人", "{o}是{k}{s}的主持人"],
        "cont": ["由{o}主持", "主持人是{o}"],
    },
    "嘉宾": {
        "head": ["{s}本期嘉宾有{o}", "{k}{s}邀请了{o}担任嘉宾", "{s}的嘉宾包括{o}", "{k}{s}迎来了嘉宾{o}"],
        "solo": ["{o}作为嘉宾做客{k}{s}", "{o}参加了{k}{s}的录制", "{o}现身{k}{s}担任嘉宾"],
        "cont": ["嘉宾有{o}", "邀请{o}担任嘉宾"],
    },
    "妻子": {
        "head": ["{s}的妻子是{o}", "{s}与妻子{o}结婚多年", "{s}娶了{o}", "{s}和妻子{o}一同出席了活动"],
        "solo": ["{o}是{s}的妻子", "{s}的太太{o}近日现身", "{s}一直称赞妻子{o}", "{o}嫁给了{s}，成为他的妻子"],
        "cont": ["{ta}的妻子是{o}", "其妻子为{o}"],
    },
    "丈夫": {
        "head": ["{s}的丈夫是{o}", "{s}与丈夫{o}相识多年", "{s}嫁给了{o}", "{s}和丈夫{o}一起出席了活动"],
        "solo": ["{o}是{s}的丈夫", "{s}的先生{o}近日接受了采访", "{s}透露丈夫{o}很支持她的工作",
                 "{s}和{o}结婚，{o}成了她的丈夫"],
        "cont": ["{ta}的丈夫是{o}", "其丈夫为{o}"],
    },
    "父亲": {
        "head": ["{s}的父亲是{o}", "{s}是{o}的{zi}", "{s}的父亲名叫{o}", "{s}自幼受父亲{o}的影响"],
        "solo": ["{o}是{s}的父亲", "{o}的{zi}{s}也走上了{r}之路", "{o}有一个{zi}叫{s}"],
        "cont": ["{ta}的父亲是{o}", "父亲为{o}"],
    },
    "母亲": {
        "head": ["{s}的母亲是{o}", "{s}的母亲名叫{o}", "{s}从小跟着母亲{o}长大", "{s}是由母亲{o}一手带大的"],
        "solo": ["{o}是{s}的母亲", "{o}的{zi}{s}成了一名{r}", "{o}是{s}的妈妈"],
        "cont": ["{ta}的母亲是{o}", "母亲为{o}"],
    },
    "毕业院校": {
        "head": ["{s}毕业于{o}", "{s}是{o}的毕业生", "{s}本科毕业于{o}", "{s}从{o}毕业"],
        "solo": ["{o}的毕业生{s}回到母校参加校庆", "毕业于{o}的{s}如今是一名{r}", "{o}校友{s}近日接受了采访",
                 "{s}的母校是{o}"],
        "cont": ["{ta}毕业于{o}", "毕业于{o}"],
    },
    "国籍": {
        "head": ["{s}，{o}国籍", "{s}的国籍是{o}", "{s}是{o}籍{r}", "{s}拥有{o}国籍"],
        "solo": ["{o}籍{r}{s}近日来访", "拥有{o}国籍的{s}是一名{r}"],
        "cont": ["{o}国籍", "国籍为{o}", "拥有{o}国籍"],
    },
    "祖籍": {
        "head": ["{s}祖籍{o}", "{s}的祖籍是{o}", "{s}，祖籍{o}", "{s}的祖籍在{o}"],
        "solo": ["祖籍{o}的{s}是一名{r}", "{o}是{s}的祖籍地"],
        "cont": ["祖籍{o}", "{ta}祖籍{o}"],
    },
    "朝代": {
        "head": ["{s}是{o}的一位{r}", "{s}，{o}{r}", "{s}生活在{o}", "{s}为{o}时期的{r}"],
        "solo": ["{o}{r}{s}", "{o}时期，{s}以才学闻名"],
        "cont": ["{o}{r}", "生活于{o}"],
    },
    "号": {
        "head": ["{s}号{o}", "{s}，号{o}", "{s}自号{o}", "{s}晚年号{o}"],
        "solo": ["{o}是{s}的号", "自号{o}的{s}是一位{r}"],
        "cont": ["号{o}", "自号{o}"],
    },
    "创始人": {
        "head": ["{s}的创始人是{o}", "{s}由{o}创立", "{s}是{o}一手创办的企业", "{s}的创办者为{o}"],
        "solo": ["{o}创办了{s}", "{o}是{s}的创始人", "作为{s}的创始人，{o}出席了发布会"],
        "cont": ["由{o}创立", "创始人是{o}"],
    },
    "董事长": {
        "head": ["{s}的董事长是{o}", "{s}现任董事长为{o}", "{s}由{o}担任董事长"],
        "solo": ["{o}出任{s}董事长", "{o}是{s}的董事长", "{s}董事长{o}近日表示将加大研发投入"],
        "cont": ["现任董事长为{o}", "董事长是{o}"],
    },
    "总部地点": {
        "head": ["{s}的总部位于{o}", "{s}总部设在{o}", "{s}是一家总部在{o}的企业", "{s}总部地点为{o}"],
        "solo": ["总部位于{o}的{s}发布了新品", "{o}是{s}的总部所在地"],
        "cont": ["总部位于{o}", "总部设在{o}"],
    },
    "注册资本": {
        "head": ["{s}的注册资本为{o}", "{s}注册资本{o}", "{s}的注册资金达{o}", "{s}成立时注册资本为{o}"],
        "solo": ["注册资本{o}的{s}发展迅速", "{s}以{o}的注册资本登记成立"],
        "cont": ["注册资本为{o}", "注册资本{o}"],
    },
    "代言人": {
        "head": ["{s}的代言人是{o}", "{s}宣布{o}成为品牌代言人", "{s}邀请{o}担任代言人", "{s}的品牌代言人为{o}"],
        "solo": ["{o}代言了{s}", "{o}成为{s}的新任代言人", "{o}为{s}代言"],
        "cont": ["代言人为{o}", "邀请{o}担任代言人"],
    },
    "成立日期": {
        "head": ["{s}成立于{o}", "{s}创建于{o}", "{s}的成立日期是{o}", "{s}始建于{o}"],
        "solo": ["{o}，{s}正式成立", "成立于{o}的{s}发展至今"],
        "cont": ["成立于{o}", "创建于{o}"],
    },
    "简称": {
        "head": ["{s}简称{o}", "{s}的简称是{o}", "{s}（简称{o}）", "{s}，简称“{o}”"],
        "solo": ["{o}是{s}的简称", "{o}即{s}"],
        "cont": ["简称{o}", "简称“{o}”"],
    },
    "占地面积": {
        "head": ["{s}占地面积{o}", "{s}占地{o}", "{s}的占地面积为{o}", "{s}校园占地{o}"],
        "solo": ["占地{o}的{s}环境优美", "{s}共占地{o}"],
        "cont": ["占地{o}", "占地面积达{o}"],
    },
    "校长": {
        "head": ["{s}的校长是{o}", "{s}现任校长为{o}", "{s}由{o}担任校长"],
        "solo": ["{o}出任{s}校长", "{o}是{s}的校长", "{s}校长{o}在毕业典礼上致辞"],
        "cont": ["现任校长为{o}", "校长是{o}"],
    },
    "面积": {
        "head": ["{s}面积{o}", "{s}总面积{o}", "{s}的面积为{o}", "{s}全境面积约{o}"],
        "solo": ["面积{o}的{s}物产丰富", "{s}辖区面积达{o}"],
        "cont": ["面积{o}", "总面积约{o}"],
    },
    "人口数量": {
        "head": ["{s}人口{o}", "{s}总人口约{o}", "{s}的人口数量为{o}", "{s}常住人口{o}"],
        "solo": ["{s}拥有{o}人口", "人口约{o}的{s}交通便利"],
        "cont": ["人口{o}", "总人口约{o}"],
    },
    "气候": {
        "head": ["{s}属{o}", "{s}属于{o}", "{s}的气候类型为{o}", "{s}气候为{o}"],
        "solo": ["{s}具有典型的{o}特征", "{o}是{s}的主要气候类型"],
        "cont": ["属{o}", "气候为{o}"],
    },
    "邮政编码": {
        "head": ["{s}的邮政编码是{o}", "{s}邮编{o}", "{s}邮政编码为{o}", "{s}的邮编为{o}"],
        "solo": ["邮编{o}对应的是{s}", "{o}是{s}的邮政编码"],
        "cont": ["邮编{o}", "邮政编码为{o}"],
    },
    "首都": {
        "head": ["{s}的首都是{o}", "{s}首都位于{o}", "{s}的首都为{o}", "{s}定都{o}"],
        "solo": ["{o}是{s}的首都", "{s}首都{o}是全国的政治中心"],
        "cont": ["首都是{o}", "首都为{o}"],
    },
    "官方语言": {
        "head": ["{s}的官方语言是{o}", "{s}以{o}为官方语言", "{s}的官方语言为{o}", "{s}官方语言有{o}"],
        "solo": ["{o}是{s}的官方语言", "在{s}，{o}是官方语言"],
        "cont": ["官方语言为{o}", "以{o}为官方语言"],
    },
    "专业代码": {
        "head": ["{s}专业的代码是{o}", "{s}的专业代码为{o}", "{s}专业代码{o}", "{s}（专业代码{o}）"],
        "solo": ["专业代码{o}对应{s}专业", "{o}是{s}专业的专业代码"],
        "cont": ["专业代码为{o}", "专业代码{o}"],
    },
    "修业年限": {
        "head": ["{s}专业修业年限为{o}", "{s}的修业年限是{o}", "{s}专业学制{o}", "{s}专业的基本修业年限为{o}"],
        "solo": ["{s}专业需要修读{o}", "修业年限为{o}的{s}专业"],
        "cont": ["修业年限为{o}", "学制{o}"],
    },
    "所在城市": {
        "head": ["{s}位于{o}", "{s}坐落在{o}", "{s}地处{o}境内", "{s}是{o}的著名景点"],
        "solo": ["{o}的{s}吸引了大量游客", "来{o}旅游一定要去{s}"],
        "cont": ["位于{o}", "坐落于{o}"],
    },
    "海拔": {
        "head": ["{s}海拔{o}", "{s}的海拔为{o}", "{s}主峰海拔{o}", "{s}海拔高度约{o}"],
        "solo": ["海拔{o}的{s}是登山爱好者的去处", "{s}最高处海拔达{o}"],
        "cont": ["海拔{o}", "海拔约{o}"],
    },
}

# Templates of multi-fact patterns (see Composer). {h} husband, {wf} wife; {f} father, {m} mother, {c} child.
SPOUSE_PAIR = [
    "{h}与妻子{wf}十分恩爱，{wf}也常说丈夫{h}是她最大的依靠",
    "{wf}的丈夫是{h}，{h}的妻子{wf}近日低调现身",
    "{h}的妻子是{wf}，而{wf}的丈夫{h}则很少公开露面",
    "作为{h}的妻子，{wf}经常陪丈夫{h}出席各类活动",
    "{wf}嫁给{h}后，{h}多次在公开场合称赞妻子{wf}",
    "{h}和{wf}是一对夫妻，{wf}是{h}的妻子，{h}是{wf}的丈夫",
]
FAMILY_BOTH = ["{c}是{f}和{m}的{zi}", "{c}的父母分别是{f}和{m}", "{c}的父亲是{f}，母亲是{m}",
               "{c}出生于一个普通家庭，父亲{f}和母亲{m}都很支持{ta}"]
FAMILY_ALL = ["{f}与妻子{m}育有一{zi1}{c}", "{f}和妻子{m}的{zi}{c}近日成为话题", "{m}和丈夫{f}的{zi}{c}如今已是一名{r}"]
SELF_DIRECTED = ["{k}{s}由{o}自编自导", "{s}是{o}自编自导的{k}", "{o}自编自导了{k}{s}", "{k}{s}的导演和编剧都是{o}",
                 "{s}由{o}担任导演兼编剧"]
SONG_WRITER = ["{s}由{o}作词作曲", "{o}包办了{s}的词曲创作", "歌曲{s}的词曲均出自{o}之手", "{s}的作词、作曲都是{o}"]
SONG_ALL = ["{o}自己作词作曲并演唱了{s}", "{s}是{o}自作词曲并亲自演唱的歌曲", "{o}包办了{s}的词曲和演唱"]
FOUNDER_CHAIR = ["{o}是{s}的创始人兼董事长", "{s}创始人、董事长{o}出席了发布会", "{s}由{o}创办，{o}至今仍担任董事长",
                 "{s}的创始人和董事长都是{o}"]
FILMOGRAPHY = ["{o}执导的作品有{S}", "{o}导演过{S}", "{o}先后执导了{S}", "{S}都是{o}执导的作品", "{o}的导演作品包括{S}"]
BIBLIOGRAPHY = ["{o}著有{S}等作品", "{o}的代表作包括{S}", "{S}都是{o}创作的作品", "{o}先后写了{S}"]
CO_GRADUATES = ["{S}都毕业于{o}", "{S}是{o}的校友", "{S}均是{o}的毕业生", "{S}曾在{o}就读并毕业"]
PREFIXES = ["据悉，", "资料显示，", "公开资料显示，", "据报道，", "值得一提的是，", "众所周知，"]

# --------------------------------------------------------------------------------------------------
# Name pieces (all invented combinations; a few ordinary place and country names).
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘蒋蔡余杜叶程苏魏"
                "吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严"
                "武戴莫孔向汤柳温傅章") + ["欧阳", "司马", "上官", "诸葛", "慕容", "东方", "司徒"]
MALE_CHARS = "伟强磊军洋勇杰涛明超辉刚健斌宇浩凯鹏飞鑫波俊峰帆然翔志晨昊博文睿哲轩宏振远成康平安国华建立新永海山川松林峻毅诚彬泽嘉锐航德铭"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀燕玲婷雪慧琳颖倩晶悦欣蕾薇璐瑶怡菲妍琪雯岚露蓉月晓梦思雨彤婉茜莹洁若诗"
CHAR_SURNAMES = list("萧楚燕沈叶苏云秦柳顾陆白林宁谢段凌夜楼商")
CHAR_CHARS = "逸寒辰影风尘羽墨瑾澜霜离歌雪凌玄青黛灵溪素琴剑舟"
PEN_A = ["月下", "风间", "墨上", "南山", "北城", "江南", "半夏", "青灯", "烟雨", "七月", "落雪", "听雨", "夜雨", "寒江", "孤帆"]
PEN_B = ["听风", "微凉", "书生", "如故", "未眠", "归人", "浅笑", "行舟", "拾光", "长歌", "煮酒", "无眠"]
ANCIENT_SURNAMES = list("李杜王苏韩柳范陆辛黄张崔孟贺刘裴元") + ["欧阳", "司马", "上官"]
ANCIENT_CHARS = "元昭德远修若谦良弼崇仲伯叔彦敬承嗣廷焕璋琮澄翰"
HAO_A = ["青松", "东篱", "南山", "西溪", "北窗", "竹林", "半山", "听涛", "石泉", "梅村", "寒山", "烟波", "白云", "松风", "柳塘",
         "归田", "醉月", "清溪", "紫阳", "鹤林"]
HAO_B = ["居士", "山人", "先生", "老人", "散人", "道人", "主人", "钓叟"]
HISTORIC_ROLES = ["诗人", "画家", "书法家", "文学家", "大臣", "将领", "医学家", "思想家", "史学家"]
DYNASTIES = ["秦朝", "西汉", "东汉", "三国", "西晋", "东晋", "北魏", "隋朝", "唐朝", "北宋", "南宋", "元朝", "明朝", "清朝"]

FILM_A = ["风起", "长安", "白夜", "逆光", "暗涌", "春暖", "归途", "追风", "迷城", "烈火", "夜航", "天涯", "孤岛", "雪落", "破晓",
          "云端", "深海", "寻梦", "星河", "暖阳", "铁血", "江湖", "青春", "浮生", "微光", "惊蛰", "山河", "大漠", "流金", "边城",
          "红尘", "潮汐", "镜花", "雷霆", "晨曦", "远山", "孤星", "沧海", "旧城", "霓虹"]
FILM_B = ["行动", "往事", "岁月", "之恋", "密码", "传说", "使命", "少年", "风云", "人生", "计划", "来信", "迷踪", "追踪", "之歌",
          "纪事", "谜案", "时光", "守望", "之城", "奇缘", "归来", "英雄", "秘境", "之约", "长歌", "特工", "战记", "花开", "别传"]
BOOK_A = ["月光", "长河", "纸上", "南方", "北国", "旧梦", "昨日", "青瓷", "听雨", "书剑", "落花", "星辰", "半生", "草原", "海边",
          "山居", "灯下", "林间", "雨巷", "故园", "白鹭", "麦田", "渡口", "晚风", "松间", "炉边", "窗外", "橘子", "野草", "河岸"]
BOOK_B = ["笔记", "随笔", "手记", "之书", "物语", "十年", "简史", "人间", "札记", "小记", "长歌", "岁月", "谣", "纪行", "书简",
          "春秋", "絮语", "志", "日记", "故事"]
WEB_X = ["豪门千金", "医妃", "商女", "将军夫人", "锦绣田园", "天才少女", "修仙之路", "都市神医", "逆天狂妃", "帝王传说", "末世女王",
         "星际舰长"]
WEB_JOB = ["捕快", "县令", "掌柜", "大夫", "厨神", "镖师"]
SONG_A = ["夏天", "月亮", "远方", "微风", "心跳", "晚安", "告白", "花开", "雨天", "想念", "星空", "海浪", "回忆", "蒲公英", "萤火",
          "雪花", "风筝", "候鸟", "路灯", "日落", "单车", "信号", "橘子汽水", "旧时光", "夜车", "海岛", "晴天娃娃", "孤独星球",
          "纸飞机", "南风"]
SONG_B = ["的约定", "的秘密", "之歌", "里的你", "不说话", "情书", "旅行", "恋曲", "序曲", "的故事", "小夜曲", "来信", "别走",
          "狂想曲", "日记", "以后", "慢慢", "在身边", "未寄出", "与你", "回声", "之外"]
ALBUM_A = ["光年", "潮汐", "回声", "白昼", "漫游", "森林", "边境", "拾光", "十七岁", "无限", "原点", "第二人生", "未完成", "蓝色",
           "平行宇宙", "心之所向", "远行", "夜空", "城市", "青柠"]
ALBUM_B = ["", "纪念册", "计划", "之旅", "档案", "频率", "时代", "笔记"]
SHOW_A = ["星期八", "奇妙", "元气", "极速", "星光", "梦想", "萌娃", "趣味", "周末", "热血", "幸福", "百变"]
SHOW_B = ["大作战", "游乐园", "研究所", "观察室", "训练营", "出发吧", "合伙人", "诗词会", "厨房", "小剧场", "实验室", "公开课"]
BRAND_A = list("云星瑞华远恒鼎锐启博天新汇宏青蓝卓万浩九金银安盛永嘉百千中东")
BRAND_B = list("帆辰达信航通盛思明雅成元智图禾海越象然州鹿河泰和峰川源润德景")
INDUSTRIES = [("科技有限公司", "科技"), ("网络科技有限公司", "网络"), ("文化传媒有限公司", "传媒"), ("食品股份有限公司", "食品"),
              ("实业有限公司", "实业"), ("电子有限公司", "电子"), ("生物科技有限公司", "生物"), ("服饰有限公司", "服饰"),
              ("汽车股份有限公司", "汽车"), ("家居有限公司", "家居"), ("乳业股份有限公司", "乳业")]
FILM_INDUSTRIES = [("影业有限公司", "影业"), ("影视文化有限公司", "影视"), ("电影制片有限公司", "电影")]
PLACE_A = list("江临青云沧东南西北海岳清平兰安宁长永丰泰嘉兴广德新桂梅松柳榆")
PLACE_B = list("州川阳岭澜陵屏源江宁平山水城溪原河安定丰")
SCHOOL_KINDS = [("大学", "大"), ("理工大学", "理工"), ("师范大学", "师大"), ("科技大学", "科大"), ("农业大学", "农大"),
                ("医科大学", "医大"), ("财经大学", "财大"), ("外国语大学", "外大"), ("工业大学", "工大"), ("交通大学", "交大")]
SPOT_KINDS = ["山", "峰", "湖", "峡谷", "古镇", "寺", "瀑布", "森林公园", "溶洞"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "南京", "武汉", "西安", "重庆", "苏州", "长沙", "厦门", "青岛", "天津",
          "宁波", "合肥", "郑州", "济南", "昆明", "大连", "福州", "无锡", "东莞", "佛山", "沈阳", "哈尔滨", "南昌", "贵阳", "珠海"]
ANCESTRAL = ["广东梅州", "广东潮州", "福建泉州", "福建漳州", "浙江宁波", "浙江绍兴", "江苏无锡", "江苏扬州", "山东烟台", "湖南湘潭",
             "湖南衡阳", "四川绵阳", "四川宜宾", "河北保定", "河南洛阳", "安徽黄山", "江西九江", "湖北荆州", "陕西汉中", "山西运城",
             "辽宁丹东", "广西桂林", "云南大理", "浙江温州"]
RELEASE_AREAS = ["中国内地"] * 5 + ["中国香港", "中国台湾", "北美", "日本", "韩国"]
NATIONALITIES = ["中国"] * 17 + ["新加坡", "马来西亚", "加拿大"]
CLIMATES = ["亚热带季风气候", "温带季风气候", "温带大陆性气候", "高原山地气候", "热带季风气候", "亚热带湿润气候"]
OCCUPATIONS = ["工程师", "教师", "医生", "设计师", "律师", "记者"]
# country: (capital, official languages)
COUNTRIES = {
    "中国": ("北京", ["汉语"]), "日本": ("东京", ["日语"]), "法国": ("巴黎", ["法语"]), "德国": ("柏林", ["德语"]),
    "西班牙": ("马德里", ["西班牙语"]), "意大利": ("罗马", ["意大利语"]), "俄罗斯": ("莫斯科", ["俄语"]),
    "英国": ("伦敦", ["英语"]), "埃及": ("开罗", ["阿拉伯语"]), "巴西": ("巴西利亚", ["葡萄牙语"]), "韩国": ("首尔", ["韩语"]),
    "泰国": ("曼谷", ["泰语"]), "希腊": ("雅典", ["希腊语"]), "葡萄牙": ("里斯本", ["葡萄牙语"]),
    "墨西哥": ("墨西哥城", ["西班牙语"]), "越南": ("河内", ["越南语"]), "荷兰": ("阿姆斯特丹", ["荷兰语"]),
    "瑞典": ("斯德哥尔摩", ["瑞典语"]), "芬兰": ("赫尔辛基", ["芬兰语", "瑞典语"]), "波兰": ("华沙", ["波兰语"]),
    "土耳其": ("安卡拉", ["土耳其语"]), "伊朗": ("德黑兰", ["波斯语"]), "蒙古": ("乌兰巴托", ["蒙古语"]),
    "马来西亚": ("吉隆坡", ["马来语"]), "加拿大": ("渥太华", ["英语", "法语"]), "印度": ("新德里", ["印地语", "英语"]),
    "瑞士": ("伯尔尼", ["德语", "法语", "意大利语", "罗曼什语"]), "比利时": ("布鲁塞尔", ["荷兰语", "法语", "德语"]),
    "澳大利亚": ("堪培拉", []), "新加坡": ("", []),
}
# name: (abbreviation, founding year): ordinary universities, used as schools people graduated from.
REAL_UNIVERSITIES = {"北京大学": ("北大", "1898年"), "清华大学": ("清华", "1911年"), "复旦大学": ("复旦", "1905年"),
                     "浙江大学": ("浙大", "1897年"), "南京大学": ("南大", "1902年"), "武汉大学": ("武大", "1893年"),
                     "中山大学": ("中大", "1924年")}
# major: (code, years of study)
MAJORS = {"计算机科学与技术": ("080901", "四年"), "软件工程": ("080902", "四年"), "网络工程": ("080903", "四年"),
          "数学与应用数学": ("070101", "四年"), "物理学": ("070201", "四年"), "化学": ("070301", "四年"),
          "汉语言文学": ("050101", "四年"), "翻译": ("050261", "四年"), "法学": ("030101K", "四年"),
          "临床医学": ("100201K", "五年"), "建筑学": ("082801", "五年"), "经济学": ("020101", "四年"),
          "金融学": ("020301K", "四年"), "会计学": ("120203K", "四年"), "历史学": ("060101", "四年"),
          "哲学": ("010101", "四年"), "新闻学": ("050301", "四年"), "生物科学": ("071001", "四年"),
          "机械工程": ("080201", "四年"), "土木工程": ("081001", "四年"), "电子信息工程": ("080701", "四年"),
          "自动化": ("080801", "四年"), "通信工程": ("080703", "四年"), "口腔医学": ("100301K", "五年"),
          "中医学": ("100501K", "五年")}
# award body: (first year, film kind or "music") -- all invented.
AWARD_BODIES = {"金橡树电影节": (1988, "电影"), "华语银幕盛典": (2001, "电影"), "青峰电视艺术节": (1990, "电视剧"),
                "星河影视大奖": (1995, "电视剧"), "天籁音乐盛典": (1997, "music"), "流行乐坛风云榜": (1993, "music")}
AWARD_CATEGORIES = {"m": ["最佳男主角", "最佳男配角", "最佳男演员", "最佳新人男演员"],
                    "f": ["最佳女主角", "最佳女配角", "最佳女演员", "最佳新人女演员"]}
MUSIC_CATEGORIES = {"m": ["最佳男歌手", "年度金曲", "最受欢迎男歌手"], "f": ["最佳女歌手", "年度金曲", "最受欢迎女歌手"]}


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
        surname = rng.choice(SURNAMES)
        chars = MALE_CHARS if gender == "m" else FEMALE_CHARS
        given = rng.choice(chars) if rng.random() < 0.3 else rng.choice(chars) + rng.choice(chars)
        return surname, surname + given

    def new_person(role: str, gender: str | None = None, surname: str | None = None) -> str:
        gender = gender or rng.choice("mf")
        for _ in range(1000):
            sur, name = person_name(gender)
            if surname is not None:
                sur = surname
                chars = MALE_CHARS if gender == "m" else FEMALE_CHARS
                name = sur + rng.choice(chars) + rng.choice(chars)
            if name not in w.kind:
                return w.add(name, "person", gender=gender, role=role, surname=sur)
        raise RuntimeError("person names exhausted")

    def pen_name() -> str:
        return rng.choice(PEN_A) + rng.choice(PEN_B)

    def new_character(gender: str | None = None) -> str:
        def make():
            return rng.choice(CHAR_SURNAMES) + rng.choice(CHAR_CHARS) + (rng.choice(CHAR_CHARS) if rng.random() < 0.6 else "")
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
    for country, (capital, languages) in COUNTRIES.items():
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
    for uni, (abbr, founded) in REAL_UNIVERSITIES.items():
        w.add(uni, "school", real=True)
        w.taken.add(abbr)
        w.fact(uni, "简称", abbr)
        w.fact(uni, "成立日期", founded)
    for major, (code, years) in MAJORS.items():
        w.add(major, "major")
        w.fact(major, "专业代码", code)
        w.fact(major, "修业年限", years)

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
    authors = ["苏云帆", "钟远山", "月下听风"] + pool(200, "作家")
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
            stem = rng.choice(PLACE_A) + rng.choice(PLACE_B)
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
            w.fact(region, "气候", rng.choice(CLIMATES))
        if rng.random() < 0.7:
            code = f"{rng.randint(1, 8)}{rng.randint(0, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}00"
            if code not in w.taken:
                w.taken.add(code)
                w.fact(region, "邮政编码", code)
    for _ in range(90):
        kind = rng.choice(SPOT_KINDS)
        spot = w.fresh(lambda kind=kind: place_stem() + kind, "spot")
        w.fact(spot, "所在城市", rng.choice(CITIES))
        if kind in ("山", "峰"):
            w.fact(spot, "海拔", f"{rng.randint(300, 3600)}米")
        elif kind in ("湖", "瀑布", "森林公园") and rng.random() < 0.4:
            w.fact(spot, "海拔", f"{rng.randint(50, 2800)}米")

    # Schools.
    schools = list(REAL_UNIVERSITIES)
    free_academics = list(academics)
    for _ in range(60):
        for _ in range(1000):
            stem = place_stem()
            suffix, short = rng.choice(SCHOOL_KINDS)
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
            brand = rng.choice(BRAND_A) + rng.choice(BRAND_B)
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
        film_companies.append(new_company(FILM_INDUSTRIES))
    companies = [new_company(INDUSTRIES) for _ in range(100)]
    for company in companies:
        if rng.random() < 0.5:
            for star in rng.sample(entertainers, rng.choice([1, 1, 2])):
                w.fact(company, "代言人", star)

    # Books and novels (novels have a protagonist).
    books = ["我乔布斯", "妖精凄卟曲之美男就地扑倒", "决胜"]
    novels: list[str] = []
    for i in range(380):
        sub = rng.choice(["小说", "小说", "网络小说", "图书", "散文集"])
        hero = None
        style = rng.random()
        if sub == "网络小说":
            def make():
                r = rng.random()
                if r < 0.4:
                    return "重生之" + rng.choice(WEB_X)
                if r < 0.7:
                    return "我在" + rng.choice(CITIES) + "当" + rng.choice(WEB_JOB)
                return rng.choice(WEB_X) + "之" + rng.choice(BOOK_A) + rng.choice(BOOK_B)
        elif sub in ("小说",) and style < 0.2:
            hero = new_character()
            suffix = rng.choice(["传", "外传", "传奇"])
            def make(hero=hero, suffix=suffix):
                return hero + suffix
        elif style < 0.35:
            def make():
                place = rng.choice(CITIES + regions[:40])
                return rng.choice([place + "往事", place + "笔记", "在" + place + "的日子", "夜宿" + place, place + "十二月"])
        else:
            def make():
                return rng.choice(BOOK_A) + rng.choice(BOOK_B)
        book = w.fresh(make, "book", sub=sub)
        books.append(book)
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
        album = w.fresh(lambda: rng.choice(ALBUM_A) + rng.choice(ALBUM_B), "album", singer=singer)
        for _ in range(rng.randint(2, 4)):
            songs.append(w.fresh(lambda: rng.choice(SONG_A) + rng.choice(SONG_B), "song", singer=singer, album=album))
    for _ in range(80):
        songs.append(w.fresh(lambda: rng.choice(SONG_A) + rng.choice(SONG_B), "song", singer=pick(singers), album=None))
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
    film_titles = FILM_A, FILM_B
    free_songs = [s for s in songs]
    rng.shuffle(free_songs)
    free_novels = list(novels)
    rng.shuffle(free_novels)
    films = ["长街旧梦", "浮城往事"]
    for _ in range(330):
        sub = rng.choice(["电影"] * 5 + ["电视剧"] * 4 + ["动画电影"])
        lead_role = None
        r = rng.random()
        if sub != "动画电影" and r < 0.1:
            lead_role = new_character()
            suffix = rng.choice(["传", "新传", "外传", "传奇"])
            film = w.fresh(lambda lead_role=lead_role, suffix=suffix: lead_role + suffix, "film", sub=sub)
        else:
            film = w.fresh(lambda: rng.choice(film_titles[0]) + rng.choice(film_titles[1]), "film", sub=sub)
        w.attrs[film]["lead_role"] = lead_role
        films.append(film)
    # adapted films: some titles are the novel's title plus a suffix
    for _ in range(50):
        novel = free_novels.pop()
        sub = rng.choice(["电影", "电视剧"])
        if rng.random() < 0.5:
            film = w.fresh(lambda novel=novel: novel + rng.choice(["前传", "新编", "之风云再起", "续集"]), "film", sub=sub)
        else:
            film = w.fresh(lambda: rng.choice(film_titles[0]) + rng.choice(film_titles[1]), "film", sub=sub)
        w.attrs[film]["lead_role"] = None
        w.attrs[film]["adapted"] = novel
        films.append(film)

    w.attrs["长街旧梦"]["lead_role"] = None
    w.attrs["浮城往事"]["lead_role"] = None
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
    bodies_for = {k: [b for b, (_, kind) in AWARD_BODIES.items() if kind == k] for k in ("电影", "电视剧", "music")}
    for actor in actors:
        if rng.random() > 0.3:
            continue
        works = [f.s for f in w.by_object.get(actor, []) if f.p == "主演"]
        if not works:
            continue
        work = rng.choice(works)
        year = min(w.attrs[work]["year"] + 1, 2024)
        bodies = [b for b in bodies_for[w.attrs[work]["sub"]] if AWARD_BODIES[b][0] <= year]
        body = rng.choice(bodies)
        award = body + rng.choice(AWARD_CATEGORIES[w.attrs[actor]["gender"]])
        if (award, year) in given:
            continue
        given.add((award, year))
        w.fact(actor, "获奖", award, inWork=work, onDate=f"{year}年", period=str(year - AWARD_BODIES[body][0] + 1))
    for singer in singers[:130]:
        if rng.random() > 0.25:
            continue
        works = [f.s for f in w.by_object.get(singer, []) if f.p == "歌手"]
        if not works:
            continue
        body = rng.choice(bodies_for["music"])
        award = body + rng.choice(MUSIC_CATEGORIES[w.attrs[singer]["gender"]])
        year = rng.randint(2000, 2023)
        if (award, year) in given:
            continue
        given.add((award, year))
        w.fact(singer, "获奖", award, inWork=rng.choice(works), onDate=f"{year}年",
               period=str(year - AWARD_BODIES[body][0] + 1))

    # TV shows.
    for _ in range(50):
        show = w.fresh(lambda: rng.choice(SHOW_A) + rng.choice(SHOW_B), "show",
                       sub=rng.choice(["综艺节目", "综艺节目", "真人秀节目", "访谈节目"]))
        for host in rng.sample(hosts, rng.choice([1, 1, 2])):
            w.fact(show, "主持人", host)
        for guest in rng.sample(actors[:200] + singers[:100], rng.randint(3, 6)):
            if not any(f.o == guest for f in w.get(show, "主持人")):
                w.fact(show, "嘉宾", guest)

    # Historical people.
    for _ in range(130):
        def make():
            return rng.choice(ANCIENT_SURNAMES) + rng.choice(ANCIENT_CHARS) + rng.choice(ANCIENT_CHARS)
        person = w.fresh(make, "historical", role=rng.choice(HISTORIC_ROLES), gender="m")
        w.fact(person, "朝代", rng.choice(DYNASTIES))
        if rng.random() < 0.7:
            for _ in range(20):
                hao = rng.choice(HAO_A) + rng.choice(HAO_B)
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

KIND_WORDS = {"song": "歌曲", "album": "专辑"}


class Composer:
    """Writes sentences about the world; each call returns (text, spo_list) or None."""

    def __init__(self, world: World, rng: random.Random):
        self.w, self.rng = world, rng
        self.groups_cache: dict[str, list[list[Fact]]] = {}
        self.hubs = {kind: [n for n in names if world.by_subject.get(n)] for kind, names in world.of_kind.items()}
        self.reset()

    # ---- per-sentence state
    def reset(self) -> None:
        self.spo: list[dict] = []
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
        self.spo.append({
            "predicate": f.p,
            "object_type": {"@value": object_types["@value"], **{k: object_types[k] for k in slots}},
            "subject_type": subject_type,
            "object": {"@value": f.o, **slots},
            "subject": f.s,
        })

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

    def finish(self, text: str) -> tuple[str, list[dict]]:
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
              template: str | None = None) -> tuple[str, list[dict]] | None:
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

    def solo(self, f: Fact, template: str | None = None) -> tuple[str, list[dict]]:
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
        t = template or self.rng.choice(SPOUSE_PAIR)
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
            text = self.rng.choice(FAMILY_BOTH).format(**vals)
        else:
            t = self.rng.choice(FAMILY_ALL)
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
        text = self.fill(self.rng.choice(SELF_DIRECTED), [director])
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
            text = rng.choice(["{a}主演了{k}{F}，并在剧中饰演{c}", "{a}在{k}{F}中担任主演，饰演{c}",
                               "{k}{F}的主演{a}在片中饰演{c}"]).format(a=star.o, k=k, F=F, c=role.o)
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
            text = rng.choice(["{k}{F}改编自{au}的小说{N}", "{k}{F}根据{au}所著小说{N}改编"]).format(**vals)
        elif style == 1:
            text = "{N}是{au}创作的小说，后被改编为{k}{F}".format(**vals)
        else:
            director = self.w.get(fact.s, "导演")[0]
            text = "由{au}原著小说{N}改编的{k}{F}由{d}执导".format(d=director.o, **vals)
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
        text = (template or self.rng.choice(FILMOGRAPHY)).format(o=director, S=listing)
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
        text = self.rng.choice(BIBLIOGRAPHY).format(o=author, S=self.join([self.show(f.s) for f in facts]))
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
        text = self.rng.choice(CO_GRADUATES).format(o=school, S=self.join([f.s for f in facts]))
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
            text = self.fill(self.rng.choice(SONG_ALL), [lyric])
            self.add(singers[0])
        else:
            text = self.fill(self.rng.choice(SONG_WRITER), [lyric])
        self.add(music)
        return self.finish(text)

    def founder_chair(self):
        companies = [f.s for f in self.w.by_pred["董事长"] if self.w.get(f.s, "创始人")[0].o == f.o]
        company = self.rng.choice(companies)
        self.reset()
        text = self.fill(self.rng.choice(FOUNDER_CHAIR), self.w.get(company, "创始人"))
        self.add(self.w.get(company, "董事长")[0])
        return self.finish(text)

    def theme_song(self):
        fact = self.random_fact("主题曲")
        singer = self.w.get(fact.o, "歌手")[0]
        self.reset()
        vals = {"F": self.show(fact.s), "k": self.kind_word(fact.s), "S": self.show(fact.o), "v": singer.o}
        text = self.rng.choice(["{k}{F}的主题曲{S}由{v}演唱", "{v}为{k}{F}献唱主题曲{S}",
                                "{v}演唱的{S}是{k}{F}的主题曲"]).format(**vals)
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
        text = self.rng.choice(["由{c}出品、{d}执导的{k}{F}", "{c}出品、{d}执导的{k}{F}口碑不俗",
                                "{k}{F}由{c}出品，{d}担任导演"]).format(**vals)
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
        template = self.rng.choice(["{s}凭借在{w}中饰演的{c}一角获得第{p}届{o}",
                                    "{d}，{s}因在{w}中饰演{c}而荣获第{p}届{o}",
                                    "{s}在{w}中饰演{c}，并凭此获得第{p}届{o}"])
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


def seed_sentences(c: Composer) -> list[tuple[str, list[dict]]]:
    """At least six differently phrased sentences for every seed fact, plus a few multi-fact ones."""
    out = []
    for s, p, o in SEED_FACTS:
        fact = next(f for f in c.w.get(s, p) if f.o == o)
        templates = T[p]["head"] + T[p]["solo"]
        for i in c.rng.sample(range(len(templates)), 6):
            out.append(c.solo(fact, templates[i]))
        if len(c.groups(s)) > 1 and c.w.free(s):
            out.append(c.chain(s, head=[fact]))
    for template in FILMOGRAPHY[:3]:
        out.append(c.filmography("何藩", template, kind="电视剧"))
    out.append(c.filmography("何藩", FILMOGRAPHY[3]))
    for template in SPOUSE_PAIR[:4]:
        out.append(c.spouse_pair("许晋亨", template))
    return [x for x in out if x]


def generate(sentences: int, seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    world = build_world(rng)
    c = Composer(world, rng)
    records: list[tuple[str, list[dict]]] = []
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
    out = [{"text": text, "spo_list": spo} for text, spo in records]
    used = {t["predicate"] for r in out for t in r["spo_list"]}
    schema = [{"subject_type": SCHEMA[p][0], "predicate": p, "object_type": dict(SCHEMA[p][1])}
              for p in SCHEMA if p in used]
    return out, schema


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
    write_lines(args.out / "duie_train.json", records)
    write_lines(args.out / "duie_schema.json", schema)
    triples = sum(len(r["spo_list"]) for r in records)
    multi = sum(len(r["spo_list"]) > 1 for r in records)
    print(f"make_demo_corpus: {len(records)} sentences, {triples} triples, {len(schema)}/{len(SCHEMA)} predicates, "
          f"{multi / len(records):.1%} with 2+ triples -> {args.out} ({time.perf_counter() - start:.2f}s)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
