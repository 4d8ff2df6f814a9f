"""Reading the corpus folder: find the text files, decode them and report the ones skipped.

``read_corpus`` walks a folder (recursively, sorted, hidden entries and unsupported extensions
ignored) and returns the :class:`Document` s it could read and the :class:`Skipped` files with a
human reason. One bad file never stops the read: it is skipped and logged (logger ``"qa"``).

Encodings are detected without extra dependencies (``decode_bytes``):

1. a byte-order mark: UTF-8 (``utf-8-sig``), UTF-32 and UTF-16 (``utf-32`` / ``utf-16``);
2. UTF-16 without a BOM, recognised by the NUL byte in every other position that ASCII-heavy
   UTF-16 text has (``utf-16-le`` / ``utf-16-be``);
3. any other NUL byte means a binary file;
4. strict UTF-8;
5. the legacy encodings GB18030 (a superset of GBK and GB2312), Big5 (or its Microsoft
   extension cp950) and, for Western files, cp1252: every strict decoding that succeeds is scored
   by :func:`plausibility` (how much it looks like real Chinese or Western text) and the best one
   wins. Big5 bytes usually decode as GB18030 too, but into rare characters, private-use code
   points and kana, so the score tells them apart.

The encoding name returned is always a Python codec that decodes the raw bytes to the text
(before cleaning), e.g. ``data.decode("utf-16")`` for a UTF-16 file with a BOM.

``stream_document`` reads a big file in bounded memory with the same result: the encoding is
chosen from the file's start and confirmed by decoding the whole file incrementally, then the
cleaned text is handed out in pieces (``qa.chunk.iter_document_chunks`` chunks them).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import stat
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from qa.settings import DEFAULTS, Settings
from qa.text import is_cjk

log = logging.getLogger("qa")

#: The most frequent Chinese characters, simplified then traditional (Jun Da's frequency order):
#: real Chinese text is mostly made of them, mis-decoded bytes rarely are.
_FREQUENT_SIMPLIFIED = (
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过"
    "发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前"
    "开但因只从想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重"
    "并物手应战向头文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常"
    "先海通教儿原东声提立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报"
    "才结反受目太量再感建务做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼"
    "书非则听白却界达光放强即像难且权思王象完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术"
    "领共确传师观清今切院让识候带导争运笑飞风步改收根干造言联持组每济车亲极林服快办议往元英士证近失"
    "转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调深商算质团集百需价花党华城石级整府离况亚请技"
    "际约示复病息究线似官火断精满支视消越器容照须九增研写称企八功吗包片史委乎查轻易早曾除农找装广显"
    "吧阿李标谈吃图念六引历首医局突专费号尽另周较注语仅考落青随选列武红响虽推势参希古众构房半节土投"
    "某案黑维革划敌致陈律足态护七兴派孩验责营星够章音跟志底站严巴例防族供效续施留讲型料终答紧黄绝奇"
    "察母京段依批群项故按河米围江织害斗双境客纪采举杀攻父苏密低朝友诉止细愿千值仍男钱破网热助倒育属"
    "坐帝限船脸职速刻乐否刚威毛状率甚独球般普怕弹校苦创假久错承印晚兰试股拿脑预谁益阳若哪微尼继送急"
    "血惊伤素药适波夜省初喜卫源食险待述陆习置居劳财环排福纳欢雷警获模充负云停木游龙树疑层冷洲冲射略"
    "范竟句室异激汉村哈策演简卡罪判担州静退既衣您宗积余痛检差富灵协角占配征修皮挥胜降阶审沉坚善妈刘"
    "读啊超免压银买皇养伊怀执副乱抗犯追帮宣佛岁航优怪香著田铁控税左右份穿艺背阵草脚概恶块顿敢守酒岛"
    "托央户烈洋哥索胡款靠评版宝座释景顾弟登货互付伯慢欧换闻危忙核暗姐介坏讨丽良序升监临亮露永呼味野"
    "架域沙掉括舰鱼杂误湾吉减编楚肯测败屋跑梦散温困剑渐封救贵枪缺楼县尚毫移娘朋画班智亦耳恩短掌恐遗"
    "固席松秘谢鲁遇康虑幸均销钟诗藏赶剧票损忽巨炮旧端探湖录叶春乡附吸予礼港雨呀板庭妇归睛饭额含顺输"
    "摇招婚脱补谓督毒油疗旅泽材灭逐莫笔亡鲜词圣择寻厂睡博勒烟授诺伦岸奥唐卖俄炸载洛健堂旁宫喝借君禁"
    "阴园谋宋避抓荣姑孙逃牙束跳顶玉镇雪午练迫爷篇肉嘴馆遍凡础洞卷坦牛宁纸诸训私庄祖丝翻暴森塔默握戏"
    "隐熟骨访弱蒙歌店鬼软典欲萨伙遭盘爸扩盖弄雄稳忘亿刺拥徒姆杨齐赛趣曲刀床迎冰虚玩析窗醒妻透购替塞"
    "努休虎扬途侵刑绿兄迅套贸毕唯谷轮库迹尤竞街促延震弃甲伟麻川申缓潜闪售灯针哲络抵朱埃抱鼓植纯夏忍"
    "页杰筑折郑贝尊吴秀混臣雅振染盛怒舞圆搞狂措姓残秋培迷诚宽宇猛摆梅毁伸摩盟末乃悲拍丁赵"
)
_FREQUENT_TRADITIONAL = (
    "的一是不了在人有我他這個們中來上大為和國地到以說時要就出會可也你對生能而子那得於著下自之年過"
    "發後作裡用道行所然家種事成方多經麼去法學如都同現當沒動面起看定天分還進好小部其些主樣理心她本前"
    "開但因只從想實日軍者意無力它與長把機十民第公此已工使情明性知全三又關點正業外將兩高間由問很最重"
    "並物手應戰向頭文體政美相見被利什二等產或新己制身果加西斯月話合回特代內信表化老給世位次度門任常"
    "先海通教兒原東聲提立及比員解水名真論處走義各入幾口認條平系氣題活爾更別打女變四神總何電數安少報"
    "才結反受目太量再感建務做接必場件計管期市直德資命山金指克許統區保至隊形社便空決治展馬科司五基眼"
    "書非則聽白卻界達光放強即像難且權思王象完設式色路記南品住告類求據程北邊死張該交規萬取拉格望覺術"
    "領共確傳師觀清今切院讓識候帶導爭運笑飛風步改收根乾造言聯持組每濟車親極林服快辦議往元英士證近失"
    "轉夫令準布始怎呢存未遠叫台單影具羅字愛擊流備兵連調深商算質團集百需價花黨華城石級整府離況亞請技"
    "際約示復病息究線似官火斷精滿支視消越器容照須九增研寫稱企八功嗎包片史委乎查輕易早曾除農找裝廣顯"
    "吧阿李標談吃圖念六引歷首醫局突專費號盡另周較注語僅考落青隨選列武紅響雖推勢參希古眾構房半節土投"
    "某案黑維革劃敵致陳律足態護七興派孩驗責營星夠章音跟志底站嚴巴例防族供效續施留講型料終答緊黃絕奇"
    "察母京段依批群項故按河米圍江織害鬥雙境客紀採舉殺攻父蘇密低朝友訴止細願千值仍男錢破網熱助倒育屬"
    "坐帝限船臉職速刻樂否剛威毛狀率甚獨球般普怕彈校苦創假久錯承印晚蘭試股拿腦預誰益陽若哪微尼繼送急"
    "血驚傷素藥適波夜省初喜衛源食險待述陸習置居勞財環排福納歡雷警獲模充負雲停木遊龍樹疑層冷洲衝射略"
    "範竟句室異激漢村哈策演簡卡罪判擔州靜退既衣您宗積餘痛檢差富靈協角佔配徵修皮揮勝降階審沉堅善媽劉"
    "讀啊超免壓銀買皇養伊懷執副亂抗犯追幫宣佛歲航優怪香田鐵控稅左右份穿藝背陣草腳概惡塊頓敢守酒島"
    "託央戶烈洋哥索胡款靠評版寶座釋景顧弟登貨互付伯慢歐換聞危忙核暗姐介壞討麗良序升監臨亮露永呼味野"
    "架域沙掉括艦魚雜誤灣吉減編楚肯測敗屋跑夢散溫困劍漸封救貴槍缺樓縣尚毫移娘朋畫班智亦耳恩短掌恐遺"
    "固席松秘謝魯遇康慮幸均銷鐘詩藏趕劇票損忽巨炮舊端探湖錄葉春鄉附吸予禮港雨呀板庭婦歸睛飯額含順輸"
    "搖招婚脫補謂督毒油療旅澤材滅逐莫筆亡鮮詞聖擇尋廠睡博勒煙授諾倫岸奧唐賣俄炸載洛健堂旁宮喝借君禁"
    "陰園謀宋避抓榮姑孫逃牙束跳頂玉鎮雪午練迫爺篇肉嘴館遍凡礎洞卷坦牛寧紙諸訓私莊祖絲翻暴森塔默握戲"
    "隱熟骨訪弱蒙歌店鬼軟典欲薩夥遭盤爸擴蓋弄雄穩忘億刺擁徒姆楊齊賽趣曲刀床迎冰虛玩析窗醒妻透購替塞"
    "努休虎揚途侵刑綠兄迅套貿畢唯谷輪庫跡尤競街促延震棄甲偉麻川申緩潛閃售燈針哲絡抵朱埃抱鼓植純夏忍"
    "頁傑築折鄭貝尊吳秀混臣雅振染盛怒舞圓搞狂措姓殘秋培迷誠寬宇猛擺梅毀伸摩盟末乃悲拍丁趙"
)
_FREQUENT = frozenset(_FREQUENT_SIMPLIFIED + _FREQUENT_TRADITIONAL)

#: Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
#: Legacy encodings tried, in order of preference when two score the same.
_LEGACY = ("gb18030", "big5", "cp950", "cp1252")
#: How many characters of a decoding are scored (enough to decide, cheap for big files).
_SAMPLE_CHARS = 20_000
#: Line breaks other than "\n" that the cleaned text turns into "\n".
_LINE_BREAKS = "\r\x0b\x0c\x85\u2028\u2029"
#: Cleaning table: other line breaks -> "\n"; control characters (but \n and \t) removed.
_CLEAN_TABLE: dict[int, str | None] = {
    **{c: None for c in range(0x20) if chr(c) not in "\n\t"},
    0x7F: None,
    **{c: None for c in range(0x80, 0xA0)},
    **{ord(c): "\n" for c in _LINE_BREAKS},
}

EMPTY = "empty file"
BINARY = "binary file (contains NUL bytes)"
NOT_TEXT = "not valid text in any supported encoding"
OUTSIDE = "symbolic link pointing outside the corpus"


class UnreadableError(Exception):
    """A file that cannot be read as a text document; ``reason`` says why, for a human."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Document:
    """One text file of the corpus, decoded and cleaned."""

    path: str  # path relative to the corpus root, POSIX separators
    text: str  # decoded, BOM removed, newlines "\n", control characters (but \n \t) removed
    encoding: str  # the Python codec that decodes the raw bytes, e.g. "utf-8", "gb18030"
    sha256: str  # of the raw file bytes
    size: int  # raw bytes


@dataclass(frozen=True)
class DocumentMeta:
    """A document's fields but its text: what :func:`stream_document` knows before the text."""

    path: str
    encoding: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Skipped:
    """A file of the corpus that was not read, and why (a human sentence)."""

    path: str
    reason: str


# ----------------------------------------------------------------------------- decoding


def _char_score(ch: str) -> float:
    """How typical ``ch`` is of real text (1 = very), negative for code points real text lacks."""
    if ch in _FREQUENT:
        return 1.0
    if is_cjk(ch):
        return 0.2  # a real but rare character: mis-decoded bytes give many of these
    cat = unicodedata.category(ch)
    if cat in ("Co", "Cn", "Cs") or ch == "\ufffd" or (cat == "Cc" and ch not in "\t\n\r\x0c"):
        return -1.0
    o = ord(ch)
    if 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF or 0x2010 <= o <= 0x206F:
        return 0.8  # CJK, full-width and general punctuation
    if 0xC0 <= o <= 0x24F:
        return 0.3  # Latin letters with diacritics
    return 0.1


def plausibility(text: str) -> float:
    """Score how much ``text`` looks like real Chinese or Western text, from -1 to 1.

    The mean score of its non-ASCII characters (ASCII reads the same in every candidate
    encoding, so it cannot tell them apart): frequent Chinese characters (simplified or
    traditional) score 1, punctuation 0.8, accented Latin letters 0.3, rare ideographs 0.2, other
    symbols 0.1, and private-use, unassigned or control code points -1. Text without non-ASCII
    characters scores 1. Only the first characters are looked at (enough to decide).
    """
    total = 0.0
    n = 0
    for ch in text[:_SAMPLE_CHARS]:
        if ch < "\x80":
            continue
        total += _char_score(ch)
        n += 1
    return total / n if n else 1.0


def _decode_strict(data: bytes, encoding: str, final: bool = True) -> str | None:
    """``data`` decoded, or None if it is not valid in ``encoding``. ``final=False``: ``data``
    is the start of a longer text, a character cut at its end is no error (and left out)."""
    try:
        if final:
            return data.decode(encoding)
        return codecs.getincrementaldecoder(encoding)("strict").decode(data, final=False)
    except (UnicodeDecodeError, LookupError):
        return None


def _looks_like_text(text: str) -> bool:
    """Few control characters: rules out binary data that happens to decode."""
    sample = text[:_SAMPLE_CHARS]
    if not sample:
        return True
    bad = sum(1 for ch in sample if ch < " " and ch not in "\t\n\r\x0c")
    return bad <= 0.05 * len(sample)


def _utf16_without_bom(data: bytes) -> str | None:
    """``"utf-16-le"`` / ``"utf-16-be"`` when the NUL bytes fall in every other position, as in
    UTF-16 text that is mostly ASCII (no BOM); else None."""
    if len(data) < 2 or len(data) % 2:
        return None
    pairs = len(data) // 2
    zeros_even = data[0::2].count(0)
    zeros_odd = data[1::2].count(0)
    if zeros_odd >= 0.3 * pairs and zeros_even <= 0.02 * pairs:
        return "utf-16-le"
    if zeros_even >= 0.3 * pairs and zeros_odd <= 0.02 * pairs:
        return "utf-16-be"
    return None


def decode_bytes(
    data: bytes, *, final: bool = True, exclude: frozenset[str] = frozenset()
) -> tuple[str, str]:
    """Decode a file's bytes: ``(text, encoding)``, or raise :class:`UnreadableError`.

    ``text`` is the raw decoding (BOM removed, nothing else cleaned: see :func:`clean_text`);
    ``encoding`` is a Python codec name with ``data.decode(encoding) == text``.

    For streaming (:func:`stream_document`): ``final=False`` reads ``data`` as the start of a
    longer file (a character cut at its end is no error), and the encodings in ``exclude``
    (known to fail later in the file) are not candidates.
    """
    if not data:
        return "", "utf-8"
    for bom, encoding in _BOMS:
        if data.startswith(bom) and encoding not in exclude:
            text = _decode_strict(data, encoding, final)
            if text is not None:
                return text, encoding
            # a damaged or accidental mark (b"\xff\xfe\x00\x00" may also be UTF-16 + NUL):
            # try the shorter marks, then the other rules
    if b"\x00" in data:
        encoding16 = _utf16_without_bom(data)
        if encoding16 is not None and encoding16 not in exclude:
            text = _decode_strict(data, encoding16, final)
            if text is not None and _looks_like_text(text):
                return text, encoding16
        raise UnreadableError(BINARY)
    text = _decode_strict(data, "utf-8", final) if "utf-8" not in exclude else None
    if text is not None:
        return text, "utf-8"
    best: tuple[float, str, str] | None = None
    decoded: set[str] = set()
    for encoding in _LEGACY:
        if encoding in exclude or (encoding == "cp950" and "big5" in decoded):
            continue  # cp950 extends big5: the same text when big5 succeeded
        text = _decode_strict(data, encoding, final)
        if text is None or not _looks_like_text(text):
            continue
        decoded.add(encoding)
        score = plausibility(text)
        if best is None or score > best[0]:
            best = (score, text, encoding)
    if best is None or best[0] <= 0:
        raise UnreadableError(NOT_TEXT)
    return best[1], best[2]


def clean_text(text: str) -> str:
    """The document text: BOM removed, line breaks normalised to "\\n", and NUL and other
    control characters (but "\\n" and "\\t") removed. Form feeds and vertical tabs (page breaks)
    become line breaks rather than vanishing between two words."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").translate(_CLEAN_TABLE)


# ----------------------------------------------------------------------------- files


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return Path(os.path.relpath(path.absolute(), root.absolute())).as_posix()


def _shown(rel: str) -> str:
    """``rel`` safe to print and store: undecodable file-name bytes shown as U+FFFD."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _size_text(n: int) -> str:
    mb = 1024 * 1024
    return f"{n // mb} MB" if n % mb == 0 else f"{n} bytes"


def _os_reason(err: OSError) -> str:
    if isinstance(err, PermissionError):
        return "cannot be read: permission denied"
    if isinstance(err, IsADirectoryError):
        return "cannot be read: it is a directory"
    if isinstance(err, FileNotFoundError):
        return "cannot be read: file not found (or a broken symbolic link)"
    return f"cannot be read: {(err.strerror or str(err)).lower()}"


def _inside(path: Path, root: Path) -> bool:
    """True if ``path``, all symbolic links followed, lies inside ``root``."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symbolic link loop
        return False
    return True


def _read_bytes(path: Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``path`` (one more than allowed tells it is too big)."""
    with open(path, "rb") as f:
        return f.read(limit + 1)


def _checked(path: Path, root: Path, settings: Settings) -> str:
    """The checks made before a file is read; its path relative to ``root``."""
    rel = _relative(path, root)
    if _shown(rel) != rel:
        raise UnreadableError("file name is not valid UTF-8 (rename the file)")
    if not _inside(path, root):
        raise UnreadableError(OUTSIDE if path.is_symlink() else "outside the corpus folder")
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableError("cannot be read: not a regular file")
    except OSError as err:
        raise UnreadableError(_os_reason(err)) from err
    if st.st_size > settings.max_file_bytes:
        raise UnreadableError(f"larger than {_size_text(settings.max_file_bytes)}")
    return rel


def read_document(path: Path, root: Path, settings: Settings = DEFAULTS) -> Document:
    """Read one file of the corpus rooted at ``root``; raise :class:`UnreadableError` (with a
    human reason) when it is a link out of the corpus, not a regular file, too big, empty,
    unreadable, binary or not text in any supported encoding."""
    path, root = Path(path), Path(root)
    rel = _checked(path, root, settings)
    try:
        data = _read_bytes(path, settings.max_file_bytes)
    except OSError as err:
        raise UnreadableError(_os_reason(err)) from err
    if len(data) > settings.max_file_bytes:
        raise UnreadableError(f"larger than {_size_text(settings.max_file_bytes)}")
    if not data:
        raise UnreadableError(EMPTY)
    raw, encoding = decode_bytes(data)
    text = clean_text(raw)
    if not text.strip():
        raise UnreadableError("no text (only white space)")
    return Document(
        path=rel,
        text=text,
        encoding=encoding,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


# ----------------------------------------------------------------------------- streaming

#: Streaming chooses the encoding from this much of the file's start: every candidate encoding
#: takes at most 4 bytes a character, so each decodes at least the ``_SAMPLE_CHARS`` that
#: :func:`decode_bytes` scores, and the choice is the one the whole file would give unless the
#: chosen encoding fails later in the file (then it is ruled out and the choice made again).
_PREFIX_BYTES = 128 * 1024
#: Streaming reads and decodes the file in blocks of this many bytes.
_BLOCK_BYTES = 1 << 20
_BOM_CODECS = frozenset(encoding for _, encoding in _BOMS)
CHANGED = "changed while it was being read (build again)"


class _NeedWhole(Exception):
    """Only the whole file can decide (NUL bytes: UTF-16 without BOM, or binary)."""


def _file_blocks(path: Path, block_bytes: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while block := f.read(block_bytes):
            yield block


def _decoded(blocks: Iterator[bytes], encoding: str) -> Iterator[str]:
    """``blocks`` decoded incrementally (``UnicodeDecodeError`` where they are not valid)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    for block in blocks:
        yield decoder.decode(block)
    yield decoder.decode(b"", final=True)


def _cleaned(pieces: Iterator[str]) -> Iterator[str]:
    """:func:`clean_text` of a text given in pieces, in pieces (a "\r" that ends a piece waits
    for the next one: it may start a "\r\n")."""
    first = True
    carry = ""
    for piece in pieces:
        piece = carry + piece
        carry = ""
        if first and piece:
            first = False
            if piece.startswith("\ufeff"):
                piece = piece[1:]
        if piece.endswith("\r"):
            piece, carry = piece[:-1], "\r"
        if piece:
            yield piece.replace("\r\n", "\n").translate(_CLEAN_TABLE)
    if carry:
        yield carry.translate(_CLEAN_TABLE)


def _scan(path: Path, encoding: str, settings: Settings, block_bytes: int) -> tuple[str, int]:
    """One pass over the file: ``(sha256, size)`` once it decodes in ``encoding`` throughout
    (else ``UnicodeDecodeError``) and holds some text."""
    h = hashlib.sha256()
    size = 0
    nul_is_binary = encoding not in _BOM_CODECS

    def blocks() -> Iterator[bytes]:
        nonlocal size
        for block in _file_blocks(path, block_bytes):
            size += len(block)
            if size > settings.max_file_bytes:
                raise UnreadableError(f"larger than {_size_text(settings.max_file_bytes)}")
            if nul_is_binary and b"\x00" in block:
                raise _NeedWhole
            h.update(block)
            yield block

    has_text = False
    for piece in _cleaned(_decoded(blocks(), encoding)):
        if not has_text and piece and not piece.isspace():
            has_text = True
    if not size:
        raise UnreadableError(EMPTY)
    if not has_text:
        raise UnreadableError("no text (only white space)")
    return h.hexdigest(), size


def _pieces(path: Path, meta: DocumentMeta, block_bytes: int) -> Iterator[str]:
    """The cleaned text of the file in pieces (read again; :data:`CHANGED` if it changed)."""
    h = hashlib.sha256()

    def blocks() -> Iterator[bytes]:
        for block in _file_blocks(path, block_bytes):
            h.update(block)
            yield block

    try:
        yield from _cleaned(_decoded(blocks(), meta.encoding))
    except (UnicodeDecodeError, OSError) as err:
        raise UnreadableError(CHANGED) from err
    if h.hexdigest() != meta.sha256:
        raise UnreadableError(CHANGED)


def stream_document(
    path: Path, root: Path, settings: Settings = DEFAULTS, block_bytes: int = _BLOCK_BYTES
) -> tuple[DocumentMeta, Iterator[str]]:
    """Read one file of the corpus as a stream, in memory bounded by ``block_bytes``: its
    fields now, and its cleaned text lazily in pieces (the file is read again).

    The result is :func:`read_document`'s: the same skip reasons, the same encoding, and the
    pieces joined are its ``text``. The encoding is chosen from the file's start
    (``_PREFIX_BYTES``) and confirmed by decoding the whole file incrementally; one that fails
    later is ruled out and the choice made again, as :func:`decode_bytes` would on the whole
    file. Small files, and files with NUL bytes but no byte-order mark (UTF-16 without BOM,
    binary), are read whole. The pieces raise :class:`UnreadableError` (:data:`CHANGED`) if the
    file changed since its fields were read."""
    path, root = Path(path), Path(root)
    rel = _checked(path, root, settings)
    try:
        with open(path, "rb") as f:
            prefix = f.read(_PREFIX_BYTES)
        exclude: set[str] = set()
        while len(prefix) == _PREFIX_BYTES:
            try:
                _, encoding = decode_bytes(prefix, final=False, exclude=frozenset(exclude))
            except UnreadableError:
                if b"\x00" in prefix:
                    break
                raise
            if encoding not in _BOM_CODECS and b"\x00" in prefix:
                break
            try:
                sha, size = _scan(path, encoding, settings, block_bytes)
            except UnicodeDecodeError:
                log.info("%s: not %s after all, choosing again", rel, encoding)
                exclude.add(encoding)
                continue
            meta = DocumentMeta(path=rel, encoding=encoding, sha256=sha, size=size)
            return meta, _pieces(path, meta, block_bytes)
    except _NeedWhole:
        pass
    except OSError as err:
        raise UnreadableError(_os_reason(err)) from err
    doc = read_document(path, root, settings)
    meta = DocumentMeta(path=doc.path, encoding=doc.encoding, sha256=doc.sha256, size=doc.size)
    return meta, iter((doc.text,))


# ----------------------------------------------------------------------------- corpus


def _wanted(name: str, settings: Settings) -> bool:
    lower = name.lower()
    return not name.startswith(".") and any(lower.endswith(e.lower()) for e in settings.extensions)


def _walk(root: Path, settings: Settings) -> Iterator[Path | Skipped]:
    """Candidate files under ``root`` in sorted order, and folders that could not be listed.

    Symbolic links to folders are not followed (their files would be read twice, or come from
    outside the corpus); links to files are listed and judged by :func:`read_document`."""
    errors: list[OSError] = []
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, onerror=errors.append, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(folder) / f for f in files if _wanted(f, settings))
    for err in errors:
        where = Path(err.filename) if err.filename else root
        yield Skipped(_shown(_relative(where, root)), f"folder {_os_reason(err)}")
    yield from sorted(found, key=lambda p: _relative(p, root))


def list_files(root: Path, settings: Settings = DEFAULTS) -> list[Path]:
    """The files of the corpus that would be read: recursive, sorted by relative path, only
    ``settings.extensions`` (case-insensitive), hidden files and folders left out."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    return [p for p in _walk(root, settings) if isinstance(p, Path)]


def read_corpus(root: Path, settings: Settings = DEFAULTS) -> tuple[list[Document], list[Skipped]]:
    """Read every file of the corpus: the documents read and the files skipped (each logged as
    a warning on logger ``"qa"``). Raises ``FileNotFoundError`` only if ``root`` is no folder."""
    return read_each(root, read_document, settings)


_T = TypeVar("_T")


def read_each(
    root: Path, read: Callable[[Path, Path, Settings], _T], settings: Settings = DEFAULTS
) -> tuple[list[_T], list[Skipped]]:
    """:func:`read_corpus` with another reader: ``read(path, root, settings)`` for each file
    (e.g. :func:`qa.chunk.read_chunks`, which streams big files); a file whose ``read`` raises
    :class:`UnreadableError` (or anything else) is skipped."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    docs: list[_T] = []
    skipped: list[Skipped] = []
    for item in _walk(root, settings):
        if isinstance(item, Path):
            try:
                docs.append(read(item, root, settings))
                continue
            except UnreadableError as err:
                item = Skipped(_shown(_relative(item, root)), err.reason)
            except Exception as err:  # one odd file must not stop the whole read
                reason = f"cannot be read: unexpected {type(err).__name__}: {err}"
                item = Skipped(_shown(_relative(item, root)), reason)
        skipped.append(item)
        log.warning("skipped %s: %s", item.path, item.reason)
    return docs, skipped
