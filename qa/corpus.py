"""Reading the corpus folder: find the text files, decode them and report the ones skipped.

``read_corpus`` walks a folder (recursively, sorted, hidden entries and unsupported extensions
ignored) and returns the :class:`Document` s it could read and the :class:`Skipped` files with a
human reason. One bad file never stops the read: it is skipped and logged (logger ``"qa"``).

Encodings are detected without extra dependencies (``decode_bytes``):

1. a byte-order mark: UTF-8 (``utf-8-sig``), UTF-32 and UTF-16 (``utf-32`` / ``utf-16``);
2. bytes with a NUL: UTF-32 or UTF-16 without a BOM (``utf-32-le`` / ``-be``, ``utf-16-le`` /
   ``-be``), whether mostly ASCII or mostly CJK, if one of these decodings is plausible; else a
   binary file;
3. strict UTF-8;
4. the legacy encodings GB18030 (a superset of GBK and GB2312), Big5 (or its Microsoft
   extension cp950), Japanese EUC-JP and Shift_JIS (or cp932), Korean EUC-KR (or cp949),
   UTF-16 without BOM nor NUL (CJK letters only) and, for Western files, cp1252. Every strict
   decoding is scored by :func:`plausibility` (how much it looks like real Chinese, Japanese,
   Korean or Western text: frequent characters, kana, frequent Hangul syllables, accented
   letters inside words...). Japanese encodings are believed only for text with kana, Korean
   ones for text mostly in Hangul (the GBK byte ranges overlap theirs). The best decoding
   believed wins if plausible enough and clearly ahead of the others; else the file is skipped
   with a reason naming the closest guess, rather than read as mojibake. Big5 bytes usually
   decode as GB18030 too, but into rare characters, private-use code points and kana, and
   EUC-JP bytes into the right kana but the wrong ideographs, so the score tells them apart.

The encoding name returned is always a Python codec that decodes the raw bytes to the text
(before cleaning), e.g. ``data.decode("utf-16")`` for a UTF-16 file with a BOM.

``stream_document`` reads a big file in bounded memory with the same result: the encoding is
chosen from a prefix of the file (the same detection: only the decodings' first characters are
scored) and confirmed by decoding the whole file incrementally, then the cleaned text is handed
out in pieces (``qa.chunk.iter_document_chunks`` chunks them).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
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
#: Frequent kanji of Japanese that the Chinese lists lack or rank lower (Japanese forms such as
#: 気 県 駅 広): with the kana, what real Japanese text is mostly made of.
_FREQUENT_KANJI = (
    "日一国会人年大十二本中長出三同時政事自行社見月分議後前民生連五発間対上部東者党地合市業内相方"
    "四定今回新場金員九入選立開手米力学問高代明実円関決子動京全目表戦経通外最言氏現理調体化田当八六"
    "約主題下首意法不来作性的要用制治度務強気小七成期公持野協取都和統以機平総加山思家話世受区領多県"
    "続進正安設保改数記院女初北午指権心界支第産結百派点教報済書府活原先共得解名交資予川向際査勝面委"
    "告軍文反元重近千考判認画海参売利組知案道信策集在件団別物側任引使求所次水半品昨論計死官増係感特"
    "情投示変打男基私各始島直両朝革価式確村提運終挙果西勢減台広容必応演電歳住争談能無再位置企真流格"
    "有疑口過局少放税検藤町常校料沢裁状工建語球営空職証土与急止送援供可役構木割聞身費付施切由説転食"
    "比難防補車優夫研収断井何南石足違消境神番規術護展態導鮮備宅害配副算視条幹独警宮究育席輸訪楽起万"
    "着乗店述残想線率病農州武声質念待試族象銀域助労例衛然早張映限親額監環験追審商葉義伝働形景落欧担"
    "好退準賞訴辺造英被株頭技低毎医復仕去姿味負閣韓渡失移差衆個門写評課末守若脳極種美岡影命含福蔵量"
    "望松非撃佐核観察整段横融型白深字答夜製票況音申様財港識注呼渉達良響阪帰針専推罪紀読書聞話飲買歩"
    "走遊泳勉習練閉雨雪天花草犬猫鳥魚肉茶酒火駅屋室窓紙絵歌色赤青黒黄緑昼晩週曜秒春夏秋冬右左短古遅"
    "速軽弱暑寒暖涼温冷狭暗忙嫌悪父母兄弟姉妹友彼誰皆様君方込扱払届渡締替戻違頼続伺致申訳済険図"
    "効値処択返覧範囲複"
)
#: Frequent Hangul syllables of Korean: real Korean text is mostly made of them, while bytes
#: mis-decoded as Korean land anywhere in the 2,350 (EUC-KR) or 11,172 syllables.
_FREQUENT_HANGUL = (
    "이다는의에하고을가로서지기한도리사자대어수시인나정으해를일적과부국있게주전상니구보우만라요중들성"
    "동문제장진면신아소것세연그화공경관조위여마무내원방실생분학회오용계미간개비년였저물법선유식안되치"
    "거히은발며체모통행영민반야말현후운당까했결명재교단합본음차양산활데표외노점던입각술러때권력없득업"
    "같래심속강않습었겠려록알왜뿐드르트스크프터더너두루므불살새색석설섬센손송순숙쉬슬승십싶쓰씨악앞애"
    "약억언얼엄역열염예옥온올와완왕욕울움웃월육윤응익임잊작잘잠잡쟁절접족존좀종좋죽준줄즈즉증직질집짓"
    "째쪽찾채책천철청초총최추축출충취측층친칠카커컴케코큰클키타태테토투특티파판팔패퍼페편평포품피필학"
    "할함항향허험혈형호혹확환황효훈휘휴흐흥희힘님네께랑처럼큼터까마다밖죠감갑값갖객건걸검겨격견곡곤골"
    "광괴군굴궁귀규균극근글금급긍긴길김깊깨꼭꽃꾸꿈끄끝끼낙난날남납낮냈냉넣녀념녕녹논놀농높놓뇌누눈"
    "뉴느늘능늦닫달담답댁덕덜독돈돌돼된될둘뒤듣듯등디따딸땅떠떤떨또뜻락란람략량럼럽렇레련렬령례론료류"
    "륙률른름린림립막많망맞매맥머먹먼멀메몇목몸못뭐믿밀및바박받밝밤배백버번벌범벗베변별병복볼봄봉북붙"
    "브빌빛빠빨셨솔숨싫싸쌍써앉암압액얘얻업엔옮옷왔웠워율읽잃잔젊져졌졸죄즐즘짐짧찍착찬찰참창첫쳐촌춘"
    "춤침켜탈택털텔퇴틀폐폭푸풍플협혜혼획훨흔흘흰았렸봤곳좌쉽렵괜찮냐녁닭닮덥돕됐딱떻똑렀롭뤄맛"
    "맡맺멋몰밥밭벽봐붉빈빚뻔뼈뽑삶샀섞셔쇼숲싹쌀썼씩옆옳왼잎잖잤젖좁짝찌챙쳤캐콘쾌탓턴텐틈팀펴폰헤혀홍"
)
_FREQUENT_JA = _FREQUENT | frozenset(_FREQUENT_KANJI)
_HANGUL = frozenset(_FREQUENT_HANGUL)
#: The common CJK punctuation (beside the full-width forms of ASCII).
_CJK_PUNCTUATION = frozenset("\u3000、。〈〉《》「」『』【】〔〕〜々〇・")
#: The common general punctuation (dashes, quotes, ellipsis...).
_GENERAL_PUNCTUATION = frozenset("‐–—―‘’‚“”„•‧…‰′″※")
#: Hiragana and katakana (full width), with the prolonged sound mark and iteration marks.
_KANA = frozenset(
    [chr(c) for c in range(0x3041, 0x3097)]
    + [chr(c) for c in range(0x30A1, 0x30FB)]
    + list("ゝゞーヽヾ")
)

#: Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
#: Unicode encodings recognised without a byte-order mark. UTF-32 text always holds NUL bytes,
#: UTF-16 text as soon as it holds ASCII (line breaks included); UTF-16 text of CJK letters
#: alone may hold none.
_UTF32 = ("utf-32-le", "utf-32-be")
_UTF16 = ("utf-16-le", "utf-16-be")
#: UTF-16 without BOM nor NUL (text of CJK letters alone) has bytes >= 0x80 from its first
#: characters: it is no candidate for bytes that start with this many ASCII bytes.
_UTF16_MAX_ASCII = 32
_NON_ASCII = re.compile(rb"[\x80-\xff]")
#: Encodings tried after strict UTF-8 (first the legacy CJK ones), in order of preference
#: when two rank the same.
_LEGACY = (
    "gb18030",
    "big5",
    "cp950",
    "euc-jp",
    "shift_jis",
    "cp932",
    "euc-kr",
    "cp949",
    *_UTF16,
    "cp1252",
)
#: Extensions of an encoding: tried only when it failed (else they give the same text).
_EXTENDS = {"cp950": "big5", "cp932": "shift_jis", "cp949": "euc-kr"}
#: The language of the CJK encodings. A Japanese or Korean decoding is believed only if it
#: looks written in that language (:func:`_language`): real Japanese has kana and real Korean
#: is mostly Hangul, while Chinese bytes read in these encodings give kanji or hanja (or
#: half-width katakana) and few or no kana and Hangul.
_LANGUAGE_OF = {
    "gb18030": "zh",
    "big5": "zh",
    "cp950": "zh",
    "euc-jp": "ja",
    "shift_jis": "ja",
    "cp932": "ja",
    "euc-kr": "ko",
    "cp949": "ko",
}
#: How much lower a decoding in a Chinese encoding that looks Japanese ranks: EUC-JP Japanese
#: also decodes as GB18030 with the same kana (both codes put them in rows 4 and 5), and a
#: short text's few kanji may read as frequent hanzi there; Japanese in GBK is much rarer.
_JAPANESE_IN_CHINESE = 0.25
#: The least plausibility believed: real text scores well above, mis-decoded bytes below.
_MIN_PLAUSIBILITY = 0.45
#: How far the best decoding must rank ahead of any other believed one (of another text).
_MARGIN = 0.1
#: Human names of the encodings, for skip reasons.
_NAMES = {
    "gb18030": "Chinese GB18030/GBK",
    "big5": "Chinese Big5",
    "cp950": "Chinese Big5",
    "euc-jp": "Japanese EUC-JP",
    "shift_jis": "Japanese Shift_JIS",
    "cp932": "Japanese Shift_JIS",
    "euc-kr": "Korean EUC-KR",
    "cp949": "Korean EUC-KR",
    "cp1252": "Western cp1252",
    "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16",
    "utf-32-le": "UTF-32",
    "utf-32-be": "UTF-32",
}
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
#: No decoding is clearly the right one: close rivals, or only an encoding not believed.
UNSURE = "text encoding not recognised with confidence (closest guess: {}); save it as UTF-8"
OUTSIDE = "symbolic link pointing outside the corpus"


class UnreadableError(Exception):
    """A file that cannot be read as a text document; ``reason`` says why, for a human."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Document:
    """One file of the corpus as text: a text file decoded and cleaned, or the text that
    :mod:`qa.formats` took out of a PDF, scan, image, Word file or web page."""

    path: str  # path relative to the corpus root, POSIX separators
    text: str  # decoded, BOM removed, newlines "\n", control characters (but \n \t) removed
    encoding: str  # the Python codec that decodes the raw bytes, e.g. "utf-8", "gb18030"
    sha256: str  # of the raw file bytes
    size: int  # raw bytes
    # offsets in ``text`` where each page starts (the first is 0), for documents with pages
    # (PDF, scans); () for the others
    page_starts: tuple[int, ...] = ()
    reader: str = "text"  # how the text was read (qa.formats.base READER_*)
    ocr_pages: int = 0  # pages read by OCR

    @property
    def meta(self) -> DocumentMeta:
        """The document's fields but its text."""
        return DocumentMeta(
            path=self.path,
            encoding=self.encoding,
            sha256=self.sha256,
            size=self.size,
            pages=len(self.page_starts),
            reader=self.reader,
            ocr_pages=self.ocr_pages,
        )


@dataclass(frozen=True)
class DocumentMeta:
    """A document's fields but its text: what :func:`stream_document` knows before the text."""

    path: str
    encoding: str
    sha256: str
    size: int
    pages: int = 0  # number of pages (0: a format without pages)
    reader: str = "text"
    ocr_pages: int = 0


@dataclass(frozen=True)
class Skipped:
    """A file of the corpus that was not read, and why (a human sentence)."""

    path: str
    reason: str


# ----------------------------------------------------------------------------- decoding


def _is_hangul(ch: str) -> bool:
    """True for a precomposed Hangul syllable (Korean)."""
    return "\uac00" <= ch <= "\ud7a3"


def _language(sample: str) -> str:
    """``"ko"``, ``"ja"``, ``"zh"`` or ``""``: the CJK language ``sample`` looks written in,
    from its scripts. Korean when Hangul syllables are at least three quarters of its CJK
    letters, Japanese when kana are at least 5% of its kana and ideographs (real Japanese: a
    half or more), else Chinese; ``""`` for text without CJK letters."""
    han = kana = hangul = 0
    for ch in sample:
        if ch < "\u3000":
            continue
        if ch in _KANA:
            kana += 1
        elif _is_hangul(ch):
            hangul += 1
        elif is_cjk(ch):
            han += 1
    if hangul and hangul >= 3 * (han + kana):
        return "ko"
    if kana and kana >= 0.05 * (han + kana):
        return "ja"
    return "zh" if han else ""


@lru_cache(maxsize=1 << 16)
def _char_score(ch: str, language: str = "zh") -> float:
    """How typical ``ch`` is of real text in ``language`` (1 = very), negative for code points
    real text lacks. Kana are typical of Japanese only, Hangul syllables of Korean only (and
    then only the frequent ones: mis-decoded bytes hit the others much more), and CJK
    punctuation of CJK text only."""
    if ch in (_FREQUENT_JA if language == "ja" else _FREQUENT):
        return 1.0
    if is_cjk(ch):
        return 0.2  # a real but rare character: mis-decoded bytes give many of these
    if ch in _KANA:
        return 1.0 if language == "ja" else 0.1
    if _is_hangul(ch):
        if language != "ko":
            return 0.1
        return 1.0 if ch in _HANGUL else 0.2
    cat = unicodedata.category(ch)
    if cat in ("Co", "Cn", "Cs") or ch == "\ufffd" or (cat == "Cc" and ch not in "\t\n\r\x0c"):
        return -1.0
    o = ord(ch)
    if 0xFF61 <= o <= 0xFFDC:
        return 0.1  # half-width katakana and Hangul: Shift_JIS reads Chinese bytes as these
    if ch in _CJK_PUNCTUATION or 0xFF01 <= o <= 0xFF5E:
        return 0.8 if language else 0.3  # CJK and full-width punctuation
    if 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF:
        return 0.1  # rarer CJK punctuation and symbols (〖 is ー of EUC-JP read as GB18030)
    if ch in _GENERAL_PUNCTUATION:
        return 0.8
    if 0x2010 <= o <= 0x205E:
        return 0.3  # rarer general punctuation (‥ is ¡ and a letter read as Big5)
    if 0xA0 <= o <= 0x24F or 0x1E00 <= o <= 0x1EFF:
        return 0.5  # Latin letters with diacritics, Latin-1 punctuation and symbols
    return 0.1


def _is_latin1ish(ch: str) -> bool:
    """A character cp1252 decodes a byte >= 0x80 to (Latin-1 letters and symbols, € ‚ … ™),
    but the no-break space."""
    return ch != "\xa0" and (
        "\x80" <= ch <= "\u02ff" or "\u2013" <= ch <= "\u203a" or ch in "\u20ac\u2122"
    )


def _mojibake_mask(sample: str) -> bytearray:
    """1 where ``sample`` has runs of Latin-1-like characters with 3 or more letters or
    symbols below U+0300 (else 0): CJK bytes read as cp1252 give such runs, while real Western
    text has its accented letters between ASCII ones."""
    mask = bytearray(len(sample))
    start = 0
    for i in range(len(sample) + 1):
        if i < len(sample) and sample[i] >= "\x80" and _is_latin1ish(sample[i]):
            continue
        if i - start >= 3 and sum(1 for c in sample[start:i] if c <= "\u02ff") >= 3:
            mask[start:i] = b"\x01" * (i - start)
        start = i + 1
    return mask


def _is_ascii_letter(ch: str) -> bool:
    return ch < "\x80" and ch.isalpha()


def _is_cjk_letter(ch: str) -> bool:
    """True for an ideograph, a kana or a Hangul syllable (False for ``""``)."""
    return bool(ch) and (is_cjk(ch) or ch in _KANA or _is_hangul(ch))


def _is_latin(ch: str) -> bool:
    """An accented Latin letter, a combining accent or Spanish and French punctuation."""
    return (
        ("\xc0" <= ch <= "\u024f" and ch not in "\xd7\xf7")
        or "\u1e00" <= ch <= "\u1eff"
        or "\u0300" <= ch <= "\u036f"
        or ch in "¡¿«»ºª"
    )


def _in_context(sample: str, i: int, score: float, language: str) -> float:
    """The score of ``sample[i]`` adjusted for its neighbours.

    An accented Latin letter (or a combining accent, or ¡ ¿ « ») next to an ASCII letter is
    typical of Western text (0.8). A lone CJK letter between printable ASCII characters (or
    the ends of the text), one of them a letter, is what an accented letter of Western text
    read as a two-byte CJK character looks like (0.1). And Chinese and Japanese put no spaces
    between words, Korean does: a CJK letter spaced from another counts half in Chinese or
    Japanese (Korean bytes read as Chinese look like this)."""
    ch = sample[i]
    before = sample[i - 1] if i else " "
    after = sample[i + 1] if i + 1 < len(sample) else " "
    if _is_latin(ch):
        return 0.8 if _is_ascii_letter(before) or _is_ascii_letter(after) else score
    if not _is_cjk_letter(ch):
        return score
    if (
        " " <= before <= "~"
        and " " <= after <= "~"
        and (_is_ascii_letter(before) or _is_ascii_letter(after))
    ):
        return min(score, 0.1)
    if language in ("zh", "ja") and (
        (before == " " and _is_cjk_letter(sample[i - 2 : i - 1] if i >= 2 else ""))
        or (after == " " and _is_cjk_letter(sample[i + 2 : i + 3]))
    ):
        return score / 2
    return score


def plausibility(text: str) -> float:
    """Score how much ``text`` looks like real Chinese, Japanese, Korean or Western text, from
    -1 to 1.

    The mean score of its non-ASCII characters (ASCII reads the same in every candidate
    encoding, so it cannot tell them apart), in the language its scripts suggest
    (:func:`_language`): frequent Chinese characters (simplified or traditional; for Japanese
    also frequent kanji), kana in Japanese and frequent Hangul syllables in Korean score 1,
    common punctuation and accented Latin letters next to ASCII ones 0.8, other Latin-1
    letters and symbols 0.5, rare ideographs and Hangul 0.2, other symbols 0.1 (so do kana
    and Hangul outside their language, half-width katakana, and a CJK letter alone between
    ASCII letters: :func:`_in_context`), private-use, unassigned or control code points
    (ASCII ones included) -1, and runs of Latin-1 letters and symbols (CJK bytes read as
    cp1252) -0.5. Text without non-ASCII characters scores 1. Only the first characters are
    looked at (enough to decide).
    """
    sample = text[:_SAMPLE_CHARS]
    language = _language(sample)
    mojibake = _mojibake_mask(sample)
    total = 0.0
    n = 0
    for i, ch in enumerate(sample):
        if ch < "\x80":
            if (ch < " " and ch not in "\t\n\r\x0c") or ch == "\x7f":
                n += 1  # an ASCII control character: no text has them, mis-decodings may
                total -= 1.0
            continue
        n += 1
        if mojibake[i]:
            total -= 0.5
            continue
        total += _in_context(sample, i, _char_score(ch, language), language)
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


@dataclass(frozen=True)
class _Decoding:
    """One candidate decoding of some bytes, scored."""

    score: float  # plausibility of the sample
    rank: float  # score, lowered for a Chinese encoding giving Japanese text
    sample: str  # the part of the text scored (the whole text is not kept: memory)
    encoding: str
    believed: bool  # False for a Japanese or Korean encoding whose text does not look so
    ideographic: bool  # the text looks Chinese (a Japanese text of kanji alone does too)


def _unicode_plausibility(sample: str) -> float:
    """:func:`plausibility` of a UTF-16 or UTF-32 decoding, its printable ASCII counted as
    typical text: in these encodings ASCII is no reading shared with the other candidates, but
    what the NUL bytes spell (English text with a © or a ™ is text, not a binary file)."""
    ascii_text = sum(1 for ch in sample if " " <= ch <= "~" or ch in "\t\n\r")
    if not sample or ascii_text == len(sample):
        return 1.0
    others = len(sample) - ascii_text
    return (ascii_text + others * plausibility(sample)) / len(sample)


def _decodings(
    data: bytes, encodings: tuple[str, ...], final: bool, exclude: frozenset[str], start: int = 0
) -> Iterator[_Decoding]:
    """The strict decodings of ``data`` in ``encodings`` that look like text, scored on their
    sample: their first :data:`_SAMPLE_CHARS` characters from ``start`` (for the
    ASCII-compatible encodings: the character before the first non-ASCII byte, so that a long
    ASCII start does not blind the scores) or from 0 (UTF-16 and UTF-32)."""
    decoded: set[str] = set()
    for encoding in encodings:
        if encoding in exclude or _EXTENDS.get(encoding) in decoded:
            continue  # cp950 extends big5 (...): the same text when big5 succeeded
        text = _decode_strict(data, encoding, final)
        unicode = encoding in _UTF16 or encoding in _UTF32
        at = 0 if unicode else start
        sample = text[at : at + _SAMPLE_CHARS] if text is not None else ""
        if text is None or not _looks_like_text(sample):
            continue
        decoded.add(encoding)
        language = _LANGUAGE_OF.get(encoding)
        looks = _language(sample)
        score = _unicode_plausibility(sample) if unicode else plausibility(sample)
        rank = score - _JAPANESE_IN_CHINESE if language == "zh" and looks == "ja" else score
        believed = language in (None, "zh", looks)
        yield _Decoding(score, rank, sample, encoding, believed, looks == "zh")


def _decoded_text(data: bytes, encoding: str, final: bool) -> str:
    """``data`` decoded in ``encoding``, known to be valid."""
    text = _decode_strict(data, encoding, final)
    if text is None:  # cannot be: the encoding was chosen among the valid decodings
        raise UnreadableError(NOT_TEXT)
    return text


def _first_non_ascii(data: bytes) -> int:
    """The offset of the first byte >= 0x80 of ``data`` (its length if none)."""
    found = _NON_ASCII.search(data)
    return found.start() if found else len(data)


def _first_best(decodings: Iterable[_Decoding]) -> _Decoding | None:
    """The highest-ranking decoding, the first one among equals."""
    best: _Decoding | None = None
    for d in decodings:
        if best is None or d.rank > best.rank:
            best = d
    return best


class _Unsure(UnreadableError):
    """No decoding is clearly the right one: :data:`UNSURE` naming ``guess``, the best-ranking
    decoding, or :data:`NOT_TEXT` if even that one is not plausible. The verdict holds for a
    whole file only if the encodings in ``needs`` decode the whole file: streaming checks them
    (:func:`stream_document`)."""

    def __init__(self, guess: _Decoding, *needs: _Decoding) -> None:
        if guess.score < _MIN_PLAUSIBILITY:
            super().__init__(NOT_TEXT)
        else:
            super().__init__(UNSURE.format(_NAMES.get(guess.encoding, guess.encoding)))
        self.needs = tuple(d.encoding for d in (guess, *needs))


def _choose(decodings: list[_Decoding], failure: str) -> _Decoding:
    """The decoding to believe: the best-ranking one believed, if plausible enough, clearly
    ahead of any other believed decoding of another text, and not behind an ideographic one not
    believed (Japanese in kanji alone is not believed EUC-JP, but its worse GB18030 reading is
    no Chinese text either). Else raise :class:`_Unsure`, naming the best-ranking decoding (or
    ``failure`` when nothing decodes, or when it is :data:`BINARY`)."""
    believed = [d for d in decodings if d.believed]
    best = _first_best(believed)
    guess = _first_best(decodings)
    if guess is None or best is None or best.score < _MIN_PLAUSIBILITY:
        if guess is None or failure == BINARY:
            raise UnreadableError(failure)
        raise _Unsure(guess)
    rival = _first_best(d for d in believed if d.sample != best.sample)
    if rival is not None and rival.rank > best.rank - _MARGIN:
        raise _Unsure(guess, best, rival)
    veto = _first_best(d for d in decodings if d.ideographic and not d.believed)
    if veto is not None and veto.rank > best.rank:
        raise _Unsure(guess, best, veto)
    return best


def decode_bytes(
    data: bytes,
    *,
    final: bool = True,
    exclude: frozenset[str] = frozenset(),
    has_nul: bool | None = None,
) -> tuple[str, str]:
    """Decode a file's bytes: ``(text, encoding)``, or raise :class:`UnreadableError`.

    ``text`` is the raw decoding (BOM removed, nothing else cleaned: see :func:`clean_text`);
    ``encoding`` is a Python codec name with ``data.decode(encoding) == text``.

    1. A byte-order mark decides (UTF-8, UTF-16, UTF-32).
    2. Bytes with a NUL are UTF-32 or UTF-16 text without a BOM (LE or BE), else a binary
       file (:data:`BINARY`).
    3. Else strict UTF-8.
    4. Else one of the legacy encodings, or UTF-16 without BOM (text of CJK letters alone
       holds no NUL; not for bytes that start with :data:`_UTF16_MAX_ASCII` ASCII bytes).

    In 2 and 4 each strict decoding is scored by :func:`plausibility` on a sample (from the
    first non-ASCII character in 4: see :func:`_decodings`); Japanese and Korean
    encodings are believed only for text with kana or mostly in Hangul, whatever their score.
    The best decoding believed wins if plausible enough and clearly ahead (:data:`_MARGIN`) of
    any other one believed; else the file is skipped: :data:`UNSURE`, naming the closest guess,
    or :data:`NOT_TEXT` when no encoding decodes it at all.

    For streaming (:func:`stream_document`): ``final=False`` reads ``data`` as the start of a
    longer file (a character cut at its end is no error), the encodings in ``exclude`` (known
    to fail later in the file) are not candidates, and ``has_nul`` says whether the file holds
    a NUL byte (None: whether ``data`` does).
    """
    if not data:
        return "", "utf-8"
    for bom, encoding in BOMS:
        if data.startswith(bom) and encoding not in exclude:
            text = _decode_strict(data, encoding, final)
            if text is not None:
                return text, encoding
            # a damaged or accidental mark (b"\xff\xfe\x00\x00" may also be UTF-16 + NUL):
            # try the shorter marks, then the other rules
    if has_nul is None:
        has_nul = b"\x00" in data
    if has_nul:
        best = _choose(list(_decodings(data, _UTF32 + _UTF16, final, exclude)), BINARY)
        return _decoded_text(data, best.encoding, final), best.encoding
    if "utf-8" not in exclude:
        text = _decode_strict(data, "utf-8", final)
        if text is not None:
            return text, "utf-8"
    ascii_bytes = _first_non_ascii(data)
    if ascii_bytes >= _UTF16_MAX_ASCII:
        exclude |= frozenset(_UTF16)
    start = max(0, ascii_bytes - 1)  # the ASCII before reads the same in every candidate
    best = _choose(list(_decodings(data, _LEGACY, final, exclude, start)), NOT_TEXT)
    return _decoded_text(data, best.encoding, final), best.encoding


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


def file_sha256(path: Path) -> str:
    """The sha256 (hex) of a file's bytes, read in blocks (any size)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checked_path(
    path: Path, root: Path, settings: Settings = DEFAULTS, max_bytes: int | None = None
) -> str:
    """The checks made before a file of any format is read (its name, a link out of the
    corpus, not a regular file, bigger than ``max_bytes``, by default
    ``settings.max_file_bytes``); its path relative to ``root``. Raises
    :class:`UnreadableError`."""
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
    limit = settings.max_file_bytes if max_bytes is None else max_bytes
    if st.st_size > limit:
        raise UnreadableError(f"larger than {_size_text(limit)}")
    return rel


def read_document(path: Path, root: Path, settings: Settings = DEFAULTS) -> Document:
    """Read one file of the corpus rooted at ``root``; raise :class:`UnreadableError` (with a
    human reason) when it is a link out of the corpus, not a regular file, too big, empty,
    unreadable, binary or not text in any supported encoding."""
    path, root = Path(path), Path(root)
    rel = checked_path(path, root, settings)
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

#: Streaming chooses the encoding from this many bytes of the file: its start or, for a file
#: that starts with a long ASCII part, the bytes from its first non-ASCII one. Every candidate
#: encoding takes at most 4 bytes a character, so each decodes at least the ``_SAMPLE_CHARS``
#: that :func:`decode_bytes` scores: the choice is the whole file's once passes over the file
#: confirm it (:func:`_stream_meta`).
_PREFIX_BYTES = 128 * 1024
#: Streaming reads and decodes the file in blocks of this many bytes.
_BLOCK_BYTES = 1 << 20
#: The encodings whose text may hold NUL bytes (in any other, a NUL means binary or UTF-16).
_NUL_CODECS = frozenset(encoding for _, encoding in BOMS) | frozenset(_UTF32 + _UTF16)
CHANGED = "changed while it was being read (build again)"


class _NulByte(Exception):
    """A NUL byte in a file being read in an encoding whose text has none: the choice must be
    made again among the encodings whose text has (:func:`decode_bytes`, ``has_nul``)."""


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
    (else ``UnicodeDecodeError``, or :class:`_NulByte`) and holds some text."""
    h = hashlib.sha256()
    size = 0
    nul_is_binary = encoding not in _NUL_CODECS

    def blocks() -> Iterator[bytes]:
        nonlocal size
        for block in _file_blocks(path, block_bytes):
            size += len(block)
            if size > settings.max_text_bytes:  # grew since checked_path: streamed anyway
                raise UnreadableError(f"larger than {_size_text(settings.max_text_bytes)}")
            if nul_is_binary and b"\x00" in block:
                raise _NulByte
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


def _decodes_throughout(path: Path, encoding: str, block_bytes: int) -> bool:
    """Whether the whole file decodes in ``encoding`` (one pass)."""
    try:
        for _ in _decoded(_file_blocks(path, block_bytes), encoding):
            pass
    except UnicodeDecodeError:
        return False
    return True


def _holds_nul(path: Path, block_bytes: int) -> bool:
    """Whether the file holds a NUL byte (one pass)."""
    return any(b"\x00" in block for block in _file_blocks(path, block_bytes))


def _ascii_bytes(path: Path, head: bytes, block_bytes: int) -> int:
    """The offset of the file's first byte >= 0x80 (its size if none): in ``head``, its
    first bytes, or else found in one pass."""
    found = _first_non_ascii(head)
    if found < len(head):
        return found
    offset = 0
    for block in _file_blocks(path, block_bytes):
        found = _first_non_ascii(block)
        if found < len(block):
            return offset + found
        offset += len(block)
    return offset


def _read_at(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


def _stream_meta(
    path: Path, rel: str, head: bytes, settings: Settings, block_bytes: int
) -> DocumentMeta:
    """A big file's fields, its encoding chosen as :func:`decode_bytes` chooses it from the
    whole file, in bounded memory.

    The choice is made from the file's start (``head``, :data:`_PREFIX_BYTES`) or, for the
    ASCII-compatible encodings when the file starts with a long ASCII part, from as many bytes
    from the character before its first non-ASCII byte: that is where :func:`decode_bytes`
    takes the sample it scores. It is the whole file's once passes over the file confirm what
    it relies on: the encoding chosen must decode the whole file (else it is ruled out and the
    choice made again) and, unless its text may hold NUL bytes, meet none (else the choice is
    made again among the encodings whose text may); a skip must not come from a NUL byte later
    in the file either, and the decodings an :class:`_Unsure` skip relies on must be valid
    throughout."""
    exclude: set[str] = set()
    has_nul = b"\x00" in head
    nul_known = has_nul
    window: bytes | None = None
    if not has_nul:
        ascii_bytes = _ascii_bytes(path, head, block_bytes)
        if ascii_bytes >= _UTF16_MAX_ASCII:  # then UTF-16 is no candidate
            window = _read_at(path, ascii_bytes - 1, _PREFIX_BYTES)
    while True:
        data, more = head, frozenset()
        if window is not None and not has_nul:
            if "utf-8" in exclude or _decode_strict(head, "utf-8", final=False) is None:
                data, more = window, frozenset(_UTF16)
        try:
            _, encoding = decode_bytes(
                data, final=False, exclude=frozenset(exclude) | more, has_nul=has_nul
            )
        except UnreadableError as err:
            if not nul_known:
                nul_known = True
                if _holds_nul(path, block_bytes):
                    log.info("%s: NUL bytes after its start, choosing again", rel)
                    has_nul = True
                    continue
            needs = err.needs if isinstance(err, _Unsure) else ()
            failing = {e for e in needs if not _decodes_throughout(path, e, block_bytes)}
            if not failing:
                raise
            log.info("%s: not %s after all, choosing again", rel, ", ".join(sorted(failing)))
            exclude |= failing
            continue
        try:
            sha, size = _scan(path, encoding, settings, block_bytes)
        except UnicodeDecodeError:
            log.info("%s: not %s after all, choosing again", rel, encoding)
            exclude.add(encoding)
            continue
        except _NulByte:
            log.info("%s: NUL bytes after its start, choosing again", rel)
            has_nul = nul_known = True
            continue
        return DocumentMeta(path=rel, encoding=encoding, sha256=sha, size=size)


def stream_document(
    path: Path, root: Path, settings: Settings = DEFAULTS, block_bytes: int = _BLOCK_BYTES
) -> tuple[DocumentMeta, Iterator[str]]:
    """Read one file of the corpus as a stream, in memory bounded by ``block_bytes``: its
    fields now, and its cleaned text lazily in pieces (the file is read again).

    The result is :func:`read_document`'s: the same skip reasons, the same encoding, and the
    pieces joined are its ``text``. The encoding is chosen by :func:`decode_bytes` from
    ``_PREFIX_BYTES`` of the file (it scores only the first characters anyway) and confirmed
    by decoding the whole file incrementally (:func:`_stream_meta`); no read is bigger than
    the prefix or a block. Files smaller than the prefix are read whole. The pieces raise
    :class:`UnreadableError` (:data:`CHANGED`) if the file changed since its fields were
    read."""
    path, root = Path(path), Path(root)
    rel = checked_path(path, root, settings, settings.max_text_bytes)
    try:
        with open(path, "rb") as f:
            prefix = f.read(_PREFIX_BYTES)
        if len(prefix) == _PREFIX_BYTES:
            meta = _stream_meta(path, rel, prefix, settings, block_bytes)
            return meta, _pieces(path, meta, block_bytes)
    except OSError as err:
        raise UnreadableError(_os_reason(err)) from err
    doc = read_document(path, root, settings)
    return doc.meta, iter((doc.text,))


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


def skip_reason(err: Exception) -> str:
    """Why a file that raised ``err`` while it was read is skipped: an
    :class:`UnreadableError`'s reason, or the unexpected error named."""
    if isinstance(err, UnreadableError):
        return err.reason
    return f"cannot be read: unexpected {type(err).__name__}: {err}"


def iter_each(
    root: Path, read: Callable[[Path, Path, Settings], _T], settings: Settings = DEFAULTS
) -> Iterator[_T | Skipped]:
    """``read(path, root, settings)`` of each corpus file in order, lazily: its result, or a
    :class:`Skipped` for a file whose ``read`` raises :class:`UnreadableError` (or anything
    else: one odd file must not stop the whole read) and for a folder that cannot be listed.
    What the caller does with a result (writing it to an index) is outside that net: its
    failures (a full disk) stop the caller instead of skipping a file."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    for item in _walk(root, settings):
        if isinstance(item, Path):
            try:
                result = read(item, root, settings)
            except Exception as err:  # one odd file must not stop the whole read
                item = Skipped(_shown(_relative(item, root)), skip_reason(err))
            else:
                yield result
                continue
        log.warning("skipped %s: %s", item.path, item.reason)
        yield item


def read_each(
    root: Path, read: Callable[[Path, Path, Settings], _T], settings: Settings = DEFAULTS
) -> tuple[list[_T], list[Skipped]]:
    """:func:`iter_each` collected: the results and the files skipped."""
    docs: list[_T] = []
    skipped: list[Skipped] = []
    for item in iter_each(root, read, settings):
        if isinstance(item, Skipped):
            skipped.append(item)
        else:
            docs.append(item)
    return docs, skipped
