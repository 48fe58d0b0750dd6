"""Name, region and address material for the synthetic population, with a pinyin table.

Everything here is data: real surnames weighted roughly by their share of China's
population, given-name characters by the era that favoured them, real GB/T 2260 district
codes, and the pinyin (without tones) of every character a generated name can contain, so
that names can be romanised without a dependency. :func:`romanise` does that.

>>> romanise(["王", "小明"])
'Wang Xiaoming'
>>> romanise(["深圳", "华信", "贸易", "有限 公司"])
'Shenzhen Huaxin Maoyi Youxian Gongsi'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "COMPANY_FORMS",
    "COOPERATIVES",
    "FEMALE_CLASSIC",
    "FEMALE_MODERN",
    "INDUSTRIES",
    "MALE_CLASSIC",
    "MALE_MODERN",
    "MOBILE_PREFIXES",
    "PINYIN",
    "REGIONS",
    "ROADS",
    "SHOPS",
    "SOCIAL_ORGANISATIONS",
    "SURNAMES",
    "TRADE_NAMES",
    "Industry",
    "Region",
    "romanise",
]


@dataclass(frozen=True, slots=True)
class Region:
    """A real district: its GB/T 2260 code, names, and a weight for how often it is drawn."""

    code: str
    province: str  # "广东省"; for a municipality the city itself ("北京市")
    city: str  # "深圳市"
    district: str  # "南山区"
    weight: int
    area_code: str  # telephone area code, "0755"
    abbreviation: str  # the province's one-character name on court case numbers, "粤"


# Districts of large cities; the weights are rough population shares, so that Shanghai
# and Beijing districts turn up more often than Xiamen's.
REGIONS: Final[tuple[Region, ...]] = (
    Region("110101", "北京市", "北京市", "东城区", 7, "010", "京"),
    Region("110105", "北京市", "北京市", "朝阳区", 34, "010", "京"),
    Region("110108", "北京市", "北京市", "海淀区", 31, "010", "京"),
    Region("120101", "天津市", "天津市", "和平区", 4, "022", "津"),
    Region("210102", "辽宁省", "沈阳市", "和平区", 8, "024", "辽"),
    Region("310101", "上海市", "上海市", "黄浦区", 7, "021", "沪"),
    Region("310104", "上海市", "上海市", "徐汇区", 11, "021", "沪"),
    Region("310115", "上海市", "上海市", "浦东新区", 57, "021", "沪"),
    Region("320102", "江苏省", "南京市", "玄武区", 5, "025", "苏"),
    Region("320106", "江苏省", "南京市", "鼓楼区", 9, "025", "苏"),
    Region("330102", "浙江省", "杭州市", "上城区", 13, "0571", "浙"),
    Region("330106", "浙江省", "杭州市", "西湖区", 11, "0571", "浙"),
    Region("350203", "福建省", "厦门市", "思明区", 10, "0592", "闽"),
    Region("370102", "山东省", "济南市", "历下区", 8, "0531", "鲁"),
    Region("370202", "山东省", "青岛市", "市南区", 5, "0532", "鲁"),
    Region("410105", "河南省", "郑州市", "金水区", 16, "0371", "豫"),
    Region("420102", "湖北省", "武汉市", "江岸区", 10, "027", "鄂"),
    Region("420106", "湖北省", "武汉市", "武昌区", 13, "027", "鄂"),
    Region("430102", "湖南省", "长沙市", "芙蓉区", 6, "0731", "湘"),
    Region("440103", "广东省", "广州市", "荔湾区", 11, "020", "粤"),
    Region("440104", "广东省", "广州市", "越秀区", 10, "020", "粤"),
    Region("440106", "广东省", "广州市", "天河区", 22, "020", "粤"),
    Region("440303", "广东省", "深圳市", "罗湖区", 11, "0755", "粤"),
    Region("440304", "广东省", "深圳市", "福田区", 15, "0755", "粤"),
    Region("440305", "广东省", "深圳市", "南山区", 18, "0755", "粤"),
    Region("500103", "重庆市", "重庆市", "渝中区", 6, "023", "渝"),
    Region("510104", "四川省", "成都市", "锦江区", 9, "028", "川"),
    Region("510107", "四川省", "成都市", "武侯区", 12, "028", "川"),
    Region("530102", "云南省", "昆明市", "五华区", 9, "0871", "云"),
    Region("610113", "陕西省", "西安市", "雁塔区", 15, "029", "陕"),
)

# (surname, weight in tenths of a percent of the population), the most common ones.
SURNAMES: Final[tuple[tuple[str, int], ...]] = (
    ("王", 71), ("李", 70), ("张", 66), ("刘", 54), ("陈", 45), ("杨", 31), ("黄", 22),
    ("赵", 20), ("吴", 20), ("周", 19), ("徐", 15), ("孙", 15), ("马", 15), ("朱", 13),
    ("胡", 13), ("郭", 12), ("何", 12), ("林", 11), ("高", 11), ("罗", 11), ("郑", 10),
    ("梁", 10), ("谢", 8), ("宋", 8), ("唐", 8), ("许", 7), ("韩", 7), ("冯", 7), ("邓", 7),
    ("曹", 7), ("彭", 6), ("曾", 6), ("肖", 6), ("田", 6), ("董", 5), ("潘", 5), ("袁", 5),
    ("蔡", 5), ("蒋", 5), ("余", 5), ("于", 5), ("杜", 5), ("叶", 5), ("程", 5), ("魏", 4),
    ("苏", 4), ("吕", 4), ("丁", 4), ("任", 4), ("卢", 4), ("姚", 4), ("沈", 4), ("钟", 4),
    ("姜", 4), ("崔", 4), ("谭", 4), ("陆", 3), ("范", 3), ("汪", 3), ("廖", 3), ("石", 3),
    ("金", 3), ("贾", 3), ("夏", 3), ("付", 3), ("方", 3), ("邹", 3), ("熊", 3), ("白", 3),
    ("孟", 3), ("秦", 3), ("邱", 3), ("侯", 3), ("江", 3), ("尹", 3), ("薛", 3), ("闫", 3),
    ("段", 2), ("雷", 2), ("龙", 2), ("黎", 2), ("史", 2), ("陶", 2), ("贺", 2), ("毛", 2),
    ("郝", 2), ("顾", 2), ("龚", 2), ("邵", 2), ("万", 2), ("覃", 2), ("武", 2), ("钱", 2),
    ("欧阳", 1), ("司马", 1), ("上官", 1),
)  # fmt: skip

# Given-name characters. "Classic" ones dominate for people born before about 1980,
# "modern" ones after (建国 and 秀英 on one side, 梓轩 and 欣怡 on the other).
MALE_CLASSIC: Final = "国建军伟强明华平志文海东勇斌刚林德永福春成忠庆兵宏杰涛"
MALE_MODERN: Final = "浩宇轩子博俊豪睿泽晨一航鹏飞凯鑫磊杰帆涛楠明文天嘉思承"
FEMALE_CLASSIC: Final = "秀英兰桂芳玉珍凤华丽红梅霞琴萍燕敏静娟春月云艳玲"
FEMALE_MODERN: Final = "欣怡婷雨涵梓萱琪佳思晨悦馨雪婧颖倩蕾璐一诺瑶可彤敏静"

# 字号: the distinctive part of a business name.
TRADE_NAMES: Final = (
    "华信", "鑫达", "恒通", "宏远", "金源", "瑞丰", "永盛", "天成", "中科", "博远",
    "嘉禾", "聚福", "新世纪", "东方", "海纳", "万达", "百利", "鼎盛", "汇通", "锦程",
    "长荣", "盛世", "优品", "和美", "立信", "康源", "创新", "远航", "天宇", "星辰",
    "绿源", "乐家", "富民", "安信", "龙腾", "华美", "宏图", "明德", "同心", "顺达",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Industry:
    """The trade words of a company name and what the business does.

    Words are separated by spaces, which :func:`romanise` uses and the Chinese name drops.
    """

    words: str  # "餐饮 管理"
    weight: int
    food: bool = False  # inspected by the food inspectorate
    manufacturing: bool = False  # makes products that quality inspections cover


INDUSTRIES: Final[tuple[Industry, ...]] = (
    Industry("贸易", 14),
    Industry("商贸", 10),
    Industry("科技", 14),
    Industry("信息 技术", 8),
    Industry("电子", 5, manufacturing=True),
    Industry("建筑 工程", 7),
    Industry("物流", 6),
    Industry("餐饮 管理", 8, food=True),
    Industry("食品", 6, food=True, manufacturing=True),
    Industry("服装", 4, manufacturing=True),
    Industry("机械 设备", 4, manufacturing=True),
    Industry("房地产 开发", 3),
    Industry("文化 传媒", 5),
    Industry("医药", 3, manufacturing=True),
    Industry("环保 科技", 3),
)

# Company forms by how common they are: almost all private firms are limited companies.
COMPANY_FORMS: Final[tuple[tuple[str, int], ...]] = (
    ("有限 公司", 80),
    ("有限 责任 公司", 15),
    ("股份 有限 公司", 5),
)

# Shops of individual businesses (个体工商户), named district + trade name + shop.
SHOPS: Final[tuple[tuple[str, bool], ...]] = (
    ("面馆", True),
    ("餐馆", True),
    ("小吃店", True),
    ("便利店", True),
    ("水果店", True),
    ("茶叶店", True),
    ("超市", True),
    ("五金店", False),
    ("服装店", False),
)

# Farmers' co-operatives (农民专业合作社): district + trade name + what they grow.
COOPERATIVES: Final = ("蔬菜 种植", "水果 种植", "茶叶 种植", "养殖")

# Organisations registered with civil affairs (民政): (words, authority, category).
# Category 1 is a social association, 2 a private non-enterprise unit.
SOCIAL_ORGANISATIONS: Final[tuple[tuple[str, str, str], ...]] = (
    ("青年 志愿者 协会", "5", "1"),
    ("餐饮 行业 协会", "5", "1"),
    ("老年人 协会", "5", "1"),
    ("{trade} 培训 学校", "5", "2"),
    ("{trade} 养老院", "5", "2"),
)

ROADS: Final = (
    "人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "文化路", "胜利路",
    "长江路", "黄河路", "东风路", "青年路", "滨河路", "学府路", "朝阳路", "科技路",
)  # fmt: skip

# Mobile number prefixes of the three operators (China Mobile, Unicom, Telecom).
MOBILE_PREFIXES: Final = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "176", "177", "178", "180", "181", "182", "183", "184", "185", "186", "187",
    "188", "189", "191", "198", "199",
)  # fmt: skip

# Toneless pinyin of every character a generated name can contain. Characters with more
# than one reading carry the one they have in these names (曾 as a surname is zeng, 长 in
# 长沙 is chang, 重 in 重庆 is chong, 行 in 行业 is hang). ü is written "yu" after l, as
# passports do (吕 is "Lyu"). tests/test_synth.py checks that the table is complete.
PINYIN: Final[dict[str, str]] = {
    key: value
    for key, _, value in (
        pair.partition(":")
        for pair in """
    王:wang 李:li 张:zhang 刘:liu 陈:chen 杨:yang 黄:huang 赵:zhao 吴:wu 周:zhou 徐:xu
    孙:sun 马:ma 朱:zhu 胡:hu 郭:guo 何:he 林:lin 高:gao 罗:luo 郑:zheng 梁:liang
    谢:xie 宋:song 唐:tang 许:xu 韩:han 冯:feng 邓:deng 曹:cao 彭:peng 曾:zeng
    肖:xiao 田:tian 董:dong 潘:pan 袁:yuan 蔡:cai 蒋:jiang 余:yu 于:yu 杜:du 叶:ye
    程:cheng 魏:wei 苏:su 吕:lyu 丁:ding 任:ren 卢:lu 姚:yao 沈:shen 钟:zhong
    姜:jiang 崔:cui 谭:tan 陆:lu 范:fan 汪:wang 廖:liao 石:shi 金:jin 贾:jia 夏:xia
    付:fu 方:fang 邹:zou 熊:xiong 白:bai 孟:meng 秦:qin 邱:qiu 侯:hou 江:jiang
    尹:yin 薛:xue 闫:yan 段:duan 雷:lei 龙:long 黎:li 史:shi 陶:tao 贺:he 毛:mao
    郝:hao 顾:gu 龚:gong 邵:shao 万:wan 覃:qin 武:wu 钱:qian 欧:ou 阳:yang 司:si
    上:shang 官:guan
    国:guo 建:jian 军:jun 伟:wei 强:qiang 明:ming 华:hua 平:ping 志:zhi 文:wen
    海:hai 东:dong 勇:yong 斌:bin 刚:gang 德:de 永:yong 福:fu 春:chun 成:cheng
    忠:zhong 庆:qing 兵:bing 宏:hong 杰:jie 涛:tao 浩:hao 宇:yu 轩:xuan 子:zi
    博:bo 俊:jun 豪:hao 睿:rui 泽:ze 晨:chen 一:yi 航:hang 鹏:peng 飞:fei 凯:kai
    鑫:xin 磊:lei 帆:fan 楠:nan 天:tian 嘉:jia 思:si 承:cheng 秀:xiu 英:ying
    兰:lan 桂:gui 芳:fang 玉:yu 珍:zhen 凤:feng 丽:li 红:hong 梅:mei 霞:xia
    琴:qin 萍:ping 燕:yan 敏:min 静:jing 娟:juan 月:yue 云:yun 艳:yan 玲:ling
    欣:xin 怡:yi 婷:ting 雨:yu 涵:han 梓:zi 萱:xuan 琪:qi 佳:jia 悦:yue 馨:xin
    雪:xue 婧:jing 颖:ying 倩:qian 蕾:lei 璐:lu 诺:nuo 瑶:yao 可:ke 彤:tong
    信:xin 达:da 恒:heng 通:tong 远:yuan 源:yuan 瑞:rui 丰:feng 盛:sheng 中:zhong
    科:ke 禾:he 聚:ju 新:xin 世:shi 纪:ji 纳:na 百:bai 利:li 鼎:ding 汇:hui
    锦:jin 长:chang 荣:rong 优:you 品:pin 和:he 美:mei 立:li 康:kang 创:chuang
    星:xing 辰:chen 绿:lyu 乐:le 家:jia 富:fu 民:min 安:an 腾:teng 图:tu 同:tong
    心:xin 顺:shun 贸:mao 易:yi 商:shang 技:ji 息:xi 术:shu 电:dian 筑:zhu 工:gong
    物:wu 流:liu 餐:can 饮:yin 管:guan 理:li 食:shi 服:fu 装:zhuang
    机:ji 械:xie 设:she 备:bei 房:fang 地:di 产:chan 开:kai 发:fa 化:hua 传:chuan
    媒:mei 医:yi 药:yao 环:huan 保:bao 有:you 限:xian 公:gong 责:ze 股:gu 份:fen
    北:bei 京:jing 津:jin 南:nan 杭:hang 州:zhou 厦:xia 门:men 济:ji 青:qing 岛:dao 汉:han
    沙:sha 广:guang 深:shen 圳:zhen 重:chong 都:du 昆:kun 西:xi 市:shi 区:qu
    城:cheng 朝:chao 淀:dian 浦:pu 玄:xuan 鼓:gu 楼:lou 湖:hu 历:li 下:xia
    岸:an 昌:chang 芙:fu 蓉:rong 荔:li 湾:wan 越:yue 河:he 山:shan 渝:yu 塔:ta
    雁:yan 五:wu 店:dian 馆:guan 面:mian 小:xiao 吃:chi 便:bian 水:shui 果:guo
    茶:cha 超:chao 蔬:shu 菜:cai 种:zhong 植:zhi 养:yang 殖:zhi 农:nong
    专:zhuan 业:ye 合:he 作:zuo 社:she 协:xie 会:hui 行:hang 愿:yuan 者:zhe
    老:lao 年:nian 人:ren 培:pei 训:xun 学:xue 校:xiao 院:yuan
    """.split()
    )
}

_VOWEL_START: Final = ("a", "o", "e")


def romanise(words: Iterable[str]) -> str:
    """Romanise Chinese words: each word's syllables run together and are capitalised.

    Spaces inside an item separate words too. A syllable starting with a, o or e after
    another one in the same word gets an apostrophe, as in "Xi'an". A character missing
    from :data:`PINYIN` raises ``KeyError``.

    >>> romanise(["西安", "天成", "餐饮 管理", "有限 公司"])
    "Xi'an Tiancheng Canyin Guanli Youxian Gongsi"
    """
    out: list[str] = []
    for item in words:
        for word in item.split():
            syllables = [PINYIN[ch] for ch in word]
            for index in range(1, len(syllables)):
                if syllables[index].startswith(_VOWEL_START):
                    syllables[index] = "'" + syllables[index]
            out.append("".join(syllables).capitalize())
    return " ".join(out)
